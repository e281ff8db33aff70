# Two commands do everything on a fresh machine with Python 3.11 and pip:
#   make run    set up .venv and serve the app on http://127.0.0.1:8050
#   make test   set up .venv (with test tools) and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test bench clean help browser

help:
	@echo "make run    serve the app on the built-in default map (http://127.0.0.1:8050)"
	@echo "make test   run the whole test suite"
	@echo "make bench  run the benchmarks in bench/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files: reinstall only when a requirements file changes.
$(VENV)/.run-deps: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.test-deps: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.run-deps

# Debian's Chromium: figure export (kaleido) and the browser tests. Installed when missing and
# we are root (CI, the project's machines); otherwise a note says what to install.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium and chromium-driver"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			chromium chromium-driver fonts-liberation fonts-dejavu-core >/dev/null; \
	else echo "note: install chromium and chromium-driver for figure export and the browser tests"; fi

run: $(VENV)/.run-deps browser
	$(BIN)/python app.py

# The built-in mp dataset is built from a registry package (the crabnet wheel, fetched by pip):
# a set-up step like installing requirements; the tests themselves never use the network.
test: $(VENV)/.test-deps browser
	$(BIN)/python app.py data build mp
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

bench: $(VENV)/.test-deps browser
	$(BIN)/python bench/bench_fingerprint.py
	$(BIN)/python bench/bench_map_load.py
	$(BIN)/python bench/bench_click_latency.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
