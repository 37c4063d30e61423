# The two set-up commands: `make demo` and `make test` build .venv themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Older Gradio releases the tests also serve apps with (tests/test_versions.py), one venv each
# under .venv-gradio/VERSION, built once; PINS_<version> let an old Gradio start with today's packages.
MATRIX := 3.50.2 4.8.0 4.16.0 4.44.1 5.50.0
PINS_3.50.2 := fastapi==0.104.1 pydantic==2.5.3 httpx==0.25.2 huggingface_hub<0.26
PINS_4.8.0 := fastapi==0.112.2 pydantic==2.9.2 huggingface_hub<0.26
PINS_4.16.0 := fastapi==0.112.2 pydantic==2.9.2 huggingface_hub<0.26
PINS_4.44.1 := fastapi==0.112.2 pydantic==2.9.2 huggingface_hub<0.26
MATRIX_STAMPS := $(MATRIX:%=.venv-gradio/%/.installed)

.PHONY: demo demo-app test matrix bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { echo "Python >= 3.10 needed"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,batch]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

demo-app: $(STAMP)  # serve the demo app on http://127.0.0.1:7860 to follow the README (Ctrl+C stops it)
	$(BIN)/python -m gradio_session.demo

.venv-gradio/%/.installed:
	$(PYTHON) -m venv .venv-gradio/$*
	.venv-gradio/$*/bin/python -m pip install --quiet "gradio==$*" $(foreach pin,$(PINS_$*),"$(pin)")
	touch $@

matrix:  # the Gradio venvs, three built at once (downloads and unpacking overlap)
	@$(MAKE) --no-print-directory --silent -j3 $(MATRIX_STAMPS)

test: $(STAMP) matrix
	$(BIN)/python -m pytest

bench: $(STAMP) matrix
	$(BIN)/python bench/bench_calls.py
	$(BIN)/python bench/bench_oneshot.py
	$(BIN)/python bench/bench_versions.py
	$(BIN)/python bench/bench_batch.py
	$(BIN)/python bench/bench_proxy.py
	$(BIN)/python bench/bench_mcp.py

clean:
	rm -rf $(VENV) .venv-gradio .pytest_cache
