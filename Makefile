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
# the release the interop group runs against; another one with `make test MLFLOW_VERSION=x.y.z`
# (on a fresh .venvs/mlflow). 3.18.0's wheel needs mlflow-skinny==3.18.0, which the package
# index this project installs from does not serve yet.
MLFLOW_VERSION ?= 3.17.2
MLFLOW := mlflow==$(MLFLOW_VERSION)
MLFLOW_STAMP := $(MLFLOW_VENV)/.installed-$(MLFLOW_VERSION)
# Seldon MLServer with its MLflow runtime, in its own environment: the serving benchmark
# runs it beside flavorkit where it installs (mlserver 1.7.1 wants Python < 3.13). Built by
# `make bench` only, never by `make test`; the benchmark skips it while the stamp is missing.
MLSERVER_VENV ?= .venvs/mlserver
MLSERVER := mlserver==1.7.1 mlserver-mlflow==1.7.1
MLSERVER_STAMP := $(MLSERVER_VENV)/.installed
# The environment Triton's Python backend runs exported models in (flavorkit-triton's
# tests and bench_triton.py): numpy<2, because the tritonserver of nvidia-pytriton 0.7.0
# (Triton 2.51) has a Python backend stub built against NumPy 1.x; this checkout's flavorkit
# and plugins, editable. The script keeps a stamp of what it installed and skips when current.
TRITON_VENV ?= .venvs/triton
# pyspark for the Spark benchmark's MLflow column, beside MLflow's environment (bench_spark.py
# puts it on PYTHONPATH); MLflow's own environment, and so the interop tests, stay as they are
PYSPARK_TARGET ?= .venvs/pyspark
PYSPARK_STAMP := $(PYSPARK_TARGET)/.installed

.PHONY: demo test lint bench clean mlflow-env mlserver-env triton-env pyspark-env

$(STAMP): pyproject.toml $(PLUGINS) $(CONTRIB) requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e '.[testing,serve,parquet,cli,s3,mlflow,spark,dask]' \
		$(foreach p,$(PLUGINS) $(CONTRIB),-e $(dir $(p))) -r requirements-dev.txt
	touch $@

$(MLFLOW_STAMP): pyproject.toml $(PLUGINS)
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MLFLOW_VENV)/bin/python -m pip install --quiet $(TORCH)
	$(MLFLOW_VENV)/bin/python -m pip install --quiet $(MLFLOW) -e . $(foreach p,$(PLUGINS),-e $(dir $(p)))
	touch $@

mlflow-env: $(MLFLOW_STAMP)

$(MLSERVER_STAMP): pyproject.toml plugins/sklearn/pyproject.toml
	$(PYTHON) -m venv $(MLSERVER_VENV)
	$(MLSERVER_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MLSERVER_VENV)/bin/python -m pip install --quiet $(MLSERVER) -e . -e plugins/sklearn
	touch $@

mlserver-env: $(MLSERVER_STAMP)

$(PYSPARK_STAMP): $(MLFLOW_STAMP)
	$(MLFLOW_VENV)/bin/python -m pip install --quiet --target $(PYSPARK_TARGET) pyspark==4.3.0
	touch $@

pyspark-env: $(PYSPARK_STAMP)

triton-env: $(STAMP)
	FLAVORKIT_TRITON_ENV=$(TRITON_VENV) $(PY) plugins/triton/tests/backend_env.py

demo: $(STAMP)
	$(PY) examples/quickstart.py

# every suite runs even when an earlier one fails, so one run shows every failure
test: $(STAMP) $(MLFLOW_STAMP) triton-env
	@failed=""; \
	$(PY) -m pytest tests || failed=" tests"; \
	for p in $(dir $(PLUGINS) $(CONTRIB)); do \
		echo "== $$p"; (cd $$p && $(abspath $(PY)) -m pytest) || failed="$$failed $$p"; \
	done; \
	if [ -n "$$failed" ]; then echo "failing suites:$$failed"; exit 1; fi

lint: $(STAMP)
	$(PY) -m ruff check core plugins contrib tests benchmarks examples
	$(PY) -m ruff format --check core plugins contrib tests benchmarks examples
	$(VENV)/bin/lint-imports --no-cache

bench: $(STAMP) $(MLFLOW_STAMP) triton-env
	-$(MAKE) --no-print-directory mlserver-env
	-$(MAKE) --no-print-directory pyspark-env
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) .venvs build dist .pytest_cache .hypothesis
