"""Command line: ``python -m core <command> ...`` (contract in the README; keep it stable).

Each feature module that offers a command defines ``add_cli(subparsers)``, which adds its sub-parser and
sets ``func``: a callable taking the parsed arguments and returning a JSON-able document (printed, or
written to ``--json OUT``) or ``None`` when the command printed its own output. User errors
(:class:`~core.errors.InputError`) end the command with one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from core.errors import InputError

# Modules that contribute commands, imported only when the CLI runs.
# Add a module here when it gains an ``add_cli``.
COMMAND_MODULES: tuple[str, ...] = (
    "core.commands",
    "core.bench",
    "core.agreement_cli",
    "core.sensors",
    "core.synth.cli",
    "core.fall.cli",
    "core.training",
)


def write_json(document: dict, path: str | Path | None) -> None:
    """Write ``document`` to ``path`` (``-`` or ``None``: standard output)."""
    text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False, default=_json_default)
    if path in (None, "-"):
        print(text)
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text + "\n", encoding="utf-8")


def _json_default(value):
    import numpy as np

    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="MoveScope movement analysis")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_cli(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        document = args.func(args)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if isinstance(document, int):
        return document
    if document is not None:
        write_json(document, getattr(args, "json", None))
    return 0
