# The two set-up commands: `make demo` and `make test` build .venv themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-app test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { echo "Python >= 3.10 needed"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

demo-app: $(STAMP)  # serve the demo app on http://127.0.0.1:7860 to follow the README (Ctrl+C stops it)
	$(BIN)/python -m gradio_session.demo

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/bench_calls.py
	$(BIN)/python bench/bench_oneshot.py

clean:
	rm -rf $(VENV) .pytest_cache bench/results
