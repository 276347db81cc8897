# smeftfm: `make repro` rebuilds the pipeline, `make test` runs the test suite.
# Both create the virtual environment on first use.

VENV        ?= .venv
PYTHON      ?= python3
PY          := $(VENV)/bin/python
SHARED_PDFS := $(abspath ../shared/pdfsets)

# Point LHAPDF at the shared PDF sets when they are beside the checkout (keeps any user setting too).
ifneq ($(wildcard $(SHARED_PDFS)),)
export LHAPDF_DATA_PATH := $(SHARED_PDFS)$(if $(LHAPDF_DATA_PATH),:$(LHAPDF_DATA_PATH),)
endif

# The pipeline stages call the `smeftfm` command: put the venv first on PATH for every recipe.
export PATH := $(abspath $(VENV))/bin:$(PATH)

# Without an NVIDIA driver, pin the CPU-friendly torch release first; with one, the project's
# range (torch>=2.3,<2.15) resolves to the CUDA build.
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo 1)
TORCH_CPU_PIN ?= torch==2.13.0

.PHONY: install repro test lint bench gpu-check ui clean-venv

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(if $(HAS_GPU),,$(PY) -m pip install --quiet '$(TORCH_CPU_PIN)')
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

repro: $(VENV)/.installed
	$(VENV)/bin/dvc repro

test: $(VENV)/.installed
	$(VENV)/bin/pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy --ignore-missing-imports --follow-imports=silent src/smeftfm/physics src/smeftfm/data

bench: $(VENV)/.installed
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

# The tiny pipeline on CUDA (AMP) vs the CPU, one line per comparison; without a GPU it says so and exits 0.
gpu-check: $(VENV)/.installed
	$(PY) benchmarks/gpu_check.py

ui: $(VENV)/.installed
	$(VENV)/bin/smeftfm ui

clean-venv:
	rm -rf $(VENV)
