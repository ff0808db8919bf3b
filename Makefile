# Two commands: `make demo` and `make test`. Both bootstrap .venv from a bare python3.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
CASE   ?= reports/demo.duckdb

.PHONY: demo test lab install bench lint typecheck wheel-demo clean sample

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check uv
	$(VENV)/bin/uv pip install --python $(PY) --quiet -e '.[dev,spark]'
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (forensics)" > /dev/null
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/forensics demo --data sample_data --out reports

test: $(STAMP)
	$(PY) -m pytest -q

# JupyterLab refuses to run as root unless told; these machines run as root
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --ip 127.0.0.1 --no-browser --notebook-dir . $(ALLOW_ROOT)

sample: $(STAMP)
	$(VENV)/bin/forensics sample --out sample_data

# make bench runs bench/ingest.py (the kit against the DuckDB-alone lossless ceiling, ~1 GB); the other
# scripts in bench/ (traces, small_files, timeline, cloudtrail, sigma, ...) run with BENCH="ingest traces ...".
# The bench extra (pyproject.toml) holds what their baselines import beyond the kit: pandas, pySigma's backend.
BENCH ?= ingest
bench: $(STAMP)
	$(VENV)/bin/uv pip install --python $(PY) --quiet -e '.[dev,spark,bench]'
	for b in $(BENCH); do $(PY) bench/$$b.py || exit 1; done

LINTED := forensics tests bench setup.py queries/__init__.py notebooks/__init__.py

lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)

# mypy's settings (which modules are strict) are in pyproject.toml
typecheck: $(STAMP)
	$(VENV)/bin/mypy

# the built wheel, installed into a clean venv, runs `forensics demo` outside the checkout
wheel-demo: $(STAMP)
	PYTHON=$(PY) .ci/wheel-demo $(VENV)/bin/uv

clean:
	rm -rf reports .pytest_cache
