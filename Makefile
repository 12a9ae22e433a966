# imcpnn: one-command set-up, figures and tests.
#   make all      set up .venv, run every notebook in the $(PROFILE) profile (default quick), write figures/
#   make test     set up, then pytest + nbval over every notebook in the smoke profile
#   make smoke    run every notebook with papermill in the smoke profile (outputs under build/smoke/)
#   make bench    DSTD / exact / ODE cost benchmark
#   make report   render REPRODUCTION.md from results/*.json
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= quick
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.py))
NAMES := $(notdir $(basename $(NOTEBOOKS)))
STAMP := $(VENV)/.imcpnn-installed
export PYTHONHASHSEED := 0
export MPLBACKEND := Agg

.PHONY: all test smoke bench report clean setup ngspice lint notebooks

all: setup
	@mkdir -p build/$(PROFILE)
	@for n in $(NAMES); do \
	  echo "== $$n ($(PROFILE))"; \
	  $(VENV)/bin/jupytext --quiet --to ipynb -o notebooks/$$n.ipynb notebooks/$$n.py; \
	  $(VENV)/bin/papermill -k python3 --log-level WARNING -p profile $(PROFILE) \
	    notebooks/$$n.ipynb build/$(PROFILE)/$$n.ipynb; \
	done
	@echo "figures written to figures/ (profile $(PROFILE))"

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python >= 3.11" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c constraints.txt -e '.[spice,notebooks,dev]'
	if [ -f scripts/install_sky130.py ]; then $(PY) scripts/install_sky130.py; fi
	@touch $(STAMP)

setup: $(STAMP) ngspice

ngspice:
	@bash scripts/ensure_ngspice.sh

# Notebooks parameterised for the smoke profile, executed by nbval during `make test`.
notebooks: $(STAMP)
	@mkdir -p build/nbval
	@for n in $(NAMES); do \
	  $(VENV)/bin/jupytext --quiet --to ipynb -o notebooks/$$n.ipynb notebooks/$$n.py; \
	  $(VENV)/bin/papermill --prepare-only -k python3 --log-level WARNING -p profile smoke \
	    notebooks/$$n.ipynb build/nbval/$$n.ipynb; \
	done

test: setup notebooks
	$(PY) -m pytest tests build/nbval --nbval-lax --nbval-current-env -p no:cacheprovider

smoke:
	$(MAKE) all PROFILE=smoke

bench: setup
	$(PY) -m imcpnn.repro.dstd_cost --profile $(PROFILE)

report: setup
	$(PY) -m imcpnn.repro.report

lint: setup
	$(VENV)/bin/ruff check imcpnn tests notebooks

clean:
	rm -rf build notebooks/*.ipynb .pytest_cache
