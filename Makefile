# imcpnn: one-command set-up, figures and tests.
#   make all      set up .venv, run every notebook in the $(PROFILE) profile (default quick; each notebook is its own
#                 target, so `make -j2 all` runs two at a time), then render REPRODUCTION.md once from the results
#   make test     set up, then pytest + nbval over every notebook in the smoke profile
#   make smoke    run every notebook with papermill in the smoke profile (outputs under build/smoke/)
#   make bench    re-measure the DSTD / exact / ODE cost benchmark (ignores its cache)
#   make figures-from-results   re-plot the stored dstd_cost.json (figures named *_replot, titled as re-plots)
#   make report   render REPRODUCTION.md from the results files
#   make lint     ruff (lint + format check) and the import-linter contracts of ARCHITECTURE.md
#   make lab      JupyterLab on notebooks/ (jupytext pairing: the .py sources open as notebooks and save back)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= quick
# independent jobs of the notebooks (imcpnn.executor.env_settings): EXECUTOR=local|ray, WORKERS=N, RAY_ADDRESS=auto
# (WORKERS empty: 1, or the profile's own count where it sets one, e.g. the Iris circuit's SPICE workers)
EXECUTOR ?= local
WORKERS ?=
RAY_ADDRESS ?=
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.py))
NAMES := $(notdir $(basename $(NOTEBOOKS)))
STAMP := $(VENV)/.imcpnn-installed
OUT := build/$(PROFILE)
EXECUTED := $(addprefix $(OUT)/,$(addsuffix .ipynb,$(NAMES)))
SOURCES := $(shell find imcpnn -name '*.py' -not -path '*/__pycache__/*')
# The harness keeps data and decoded tensors in the checkout (the library itself defaults to the user cache).
IMCPNN_DATA ?= $(CURDIR)/data
IMCPNN_CACHE ?= $(CURDIR)/build/cache
export IMCPNN_DATA IMCPNN_CACHE
# the data location is part of what a notebook saw: another IMCPNN_DATA reruns every notebook
DATA_STAMP := $(OUT)/.data-$(shell printf '%s' "$(IMCPNN_DATA)" | sha1sum | cut -c1-12)
ifeq ($(PROFILE),smoke)
RESULTS := build/smoke/results
REPORT := build/smoke/REPRODUCTION.md
else
RESULTS := results
REPORT := REPRODUCTION.md
endif
export PYTHONHASHSEED := 0
export MPLBACKEND := Agg

.PHONY: all test smoke bench report clean setup ngspice lint notebooks figures-from-results lab

all: setup $(EXECUTED)
	$(PY) -m imcpnn.repro.report --results $(RESULTS) --out $(REPORT)
	@echo "figures and results written (profile $(PROFILE)); executed notebooks in $(OUT)/"

# One target per notebook: rerun when its source, the package or the data location changes.
$(OUT)/%.ipynb: notebooks/%.py $(SOURCES) $(DATA_STAMP) | setup
	@mkdir -p $(OUT)
	@echo "== $* ($(PROFILE))"
	@start=$$(date +%s); \
	$(VENV)/bin/jupytext --quiet --to ipynb -o $(OUT)/$*.src.ipynb $<; \
	IMCPNN_EXECUTOR=$(EXECUTOR) IMCPNN_WORKERS=$(WORKERS) IMCPNN_RAY_ADDRESS=$(RAY_ADDRESS) \
	$(VENV)/bin/papermill -k python3 --log-level WARNING -p profile $(PROFILE) \
	  $(OUT)/$*.src.ipynb $(OUT)/$*.partial.ipynb; \
	mv $(OUT)/$*.partial.ipynb $@; \
	echo "== $* done in $$(( $$(date +%s) - start )) s"

# notebook 08 reads notebook 07's trained networks and scales (results/iris_circuit.json): run it after 07
$(OUT)/08_circuit_robustness.ipynb: $(OUT)/07_iris_circuit.ipynb

$(DATA_STAMP):
	@mkdir -p $(OUT)
	@rm -f $(OUT)/.data-*
	@touch $@

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python >= 3.11" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c constraints.txt -e '.[spice,iris,notebooks,dev,cluster]'
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
	$(PY) -m pytest tests build/nbval --nbval-lax --nbval-current-env -p no:cacheprovider --durations=15

smoke:
	$(MAKE) all PROFILE=smoke

bench: setup
	$(PY) -m imcpnn.repro.dstd_cost --profile $(PROFILE) --rerun

figures-from-results: setup
	$(PY) -m imcpnn.repro.dstd_cost --profile $(PROFILE) --replot

report: setup
	$(PY) -m imcpnn.repro.report --results $(RESULTS) --out $(REPORT)

lab: setup
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

lint: setup
	$(VENV)/bin/ruff check imcpnn tests notebooks scripts
	$(VENV)/bin/ruff format --check imcpnn tests notebooks scripts
	$(VENV)/bin/lint-imports

clean:
	rm -rf build notebooks/*.ipynb .pytest_cache
