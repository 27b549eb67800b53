# The project's task vocabulary: the README and .ci/run use these targets verbatim.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# the CPU build from local disk; an unpinned torch pulls a multi-GB CUDA build
TORCH := torch==2.13.0
PLUGINS := $(wildcard plugins/*/pyproject.toml)
CONTRIB := $(wildcard contrib/*/pyproject.toml)
STAMP := $(VENV)/.installed
# MLflow lives in its own environment: the interop tests and benchmarks compare
# against it, and the core never depends on it.
MLFLOW_VENV ?= .venvs/mlflow
MLFLOW := mlflow==3.17.2
MLFLOW_STAMP := $(MLFLOW_VENV)/.installed

.PHONY: demo test lint bench clean mlflow-env

$(STAMP): pyproject.toml $(PLUGINS) $(CONTRIB) requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e '.[testing,serve,parquet,cli]' \
		$(foreach p,$(PLUGINS) $(CONTRIB),-e $(dir $(p))) -r requirements-dev.txt
	touch $@

$(MLFLOW_STAMP): pyproject.toml $(PLUGINS)
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MLFLOW_VENV)/bin/python -m pip install --quiet $(TORCH)
	$(MLFLOW_VENV)/bin/python -m pip install --quiet $(MLFLOW) -e . $(foreach p,$(PLUGINS),-e $(dir $(p)))
	touch $@

mlflow-env: $(MLFLOW_STAMP)

demo: $(STAMP)
	$(PY) examples/quickstart.py

test: $(STAMP) $(MLFLOW_STAMP)
	$(PY) -m pytest tests
	@set -e; for p in $(dir $(PLUGINS) $(CONTRIB)); do \
		echo "== $$p"; (cd $$p && $(abspath $(PY)) -m pytest); \
	done

lint: $(STAMP)
	$(PY) -m ruff check core plugins contrib tests benchmarks examples
	$(PY) -m ruff format --check core plugins contrib tests benchmarks examples
	$(VENV)/bin/lint-imports --no-cache

bench: $(STAMP) $(MLFLOW_STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) .venvs build dist .pytest_cache .hypothesis
