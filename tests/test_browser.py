"""End to end in a real browser: ``streamlit run`` on a free port, headless Chromium, a real upload.

Proves what AppTest cannot: the annotated WebM actually plays in Chromium, and the page shows no exception.
Screenshots land in tests/artifacts/. Chromium comes from Debian (``.ci/run`` installs it); the test skips
with the reason when it is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("MOVESCOPE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ANALYSIS_TIMEOUT_MS = 300_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    log = (ROOT / "tests" / "artifacts").resolve()
    log.mkdir(parents=True, exist_ok=True)
    with (log / "streamlit-server.log").open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.port",
                str(port),
                "--server.headless",
                "true",
            ],
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            process.terminate()
            pytest.fail("streamlit did not start within 60 s (see tests/artifacts/streamlit-server.log)")
        yield url
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}: install Debian's chromium (bash .ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def wait_until_idle(page) -> None:
    """Wait until the script has finished: no running indicator, the first paint shows only the sidebar."""
    page.wait_for_timeout(500)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')",
        timeout=ANALYSIS_TIMEOUT_MS,
    )


def no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, "a traceback is shown"


def video_is_playing(page) -> dict:
    return page.evaluate(
        """async () => {
            const v = document.querySelector('video');
            v.muted = true;
            await v.play();
            await new Promise(r => setTimeout(r, 1500));
            return {currentTime: v.currentTime, width: v.videoWidth, error: v.error && v.error.code,
                    readyState: v.readyState, src: v.currentSrc};
        }"""
    )


def create_patient(page, code: str) -> None:
    sidebar = page.locator('[data-testid="stSidebar"]')
    field = sidebar.get_by_label("Pseudonymous code", exact=True)
    sidebar.get_by_text("Current patient").wait_for()
    wait_until_idle(page)
    if not field.is_visible():  # the form is folded away once patients exist
        sidebar.get_by_text("New patient").click()
    field.fill(code)
    sidebar.get_by_role("button", name="Create patient").click()
    wait_until_idle(page)
    current = sidebar.get_by_test_id("stSelectbox").first.locator("input").first
    page.wait_for_function("([el, code]) => el.value === code", arg=[current.element_handle(), code])


def go_to(page, name: str) -> None:
    """Navigate inside the app (a new URL would start a new session and forget the chosen patient)."""
    page.locator('[data-testid="stSidebarNav"]').get_by_text(name, exact=True).click()
    wait_until_idle(page)


def upload_and_wait_for_video(page, video: Path):
    go_to(page, "Gait")
    page.get_by_text("Upload a video to start").wait_for(timeout=60_000)
    page.locator('input[type="file"]').set_input_files(str(video))
    page.locator("video").wait_for(timeout=ANALYSIS_TIMEOUT_MS)
    wait_until_idle(page)


def test_upload_a_walking_video_and_watch_the_annotated_result(server, browser, demo_clip, artifacts_dir):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server)
    page.get_by_role("heading", name="MoveScope").wait_for(timeout=60_000)
    wait_until_idle(page)
    no_exception(page)
    create_patient(page, "E2E-001")

    upload_and_wait_for_video(page, demo_clip)
    no_exception(page)
    assert page.get_by_text("walked across the image").count() > 0
    state = video_is_playing(page)
    assert state["error"] is None, f"Chromium cannot decode the annotated video: {state}"
    assert state["width"] > 0 and state["currentTime"] > 0.5, f"the annotated video does not play: {state}"
    page.screenshot(path=str(artifacts_dir / "gait-page.png"), full_page=True)

    page.get_by_label("Label of the new visit", exact=True).fill("e2e baseline")
    page.get_by_role("button", name="Save analysis").click()
    page.get_by_text("Saved as analysis").wait_for(timeout=60_000)
    go_to(page, "Patients")
    page.get_by_role("tab", name="Visits and analyses").click()
    page.get_by_text("Open analysis").wait_for(timeout=60_000)
    wait_until_idle(page)
    no_exception(page)
    assert video_is_playing(page)["currentTime"] > 0.5, "the stored annotated video plays on the patient page"
    page.screenshot(path=str(artifacts_dir / "patients-page.png"), full_page=True)
    page.close()


@pytest.mark.shared
def test_sports2d_in_the_browser_selects_the_walking_woman(server, browser, shared_data, artifacts_dir):
    from core.cache import StageCache
    from core.pipeline import analyse_video
    from core.settings import settings

    expected = analyse_video(
        shared_data / "walking" / "sports2d_demo.mp4", cache=StageCache(settings().cache_dir)
    )
    woman = expected.selection.track_id
    assert abs(expected.patient.centers[-1, 0] - expected.patient.centers[0, 0]) > 0.4 * expected.video.width

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server)
    page.get_by_role("heading", name="MoveScope").wait_for(timeout=60_000)
    upload_and_wait_for_video(page, shared_data / "walking" / "sports2d_demo.mp4")
    no_exception(page)
    patient_metric = page.locator('[data-testid="stMetric"]').filter(has_text="Patient")
    assert f"track {woman}" in patient_metric.inner_text()
    assert page.get_by_text("walked across the image").count() > 0
    assert video_is_playing(page)["currentTime"] > 0.5
    page.screenshot(path=str(artifacts_dir / "gait-page-sports2d.png"), full_page=True)
    page.close()
