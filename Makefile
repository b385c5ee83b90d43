# Front door. `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# `make reports` runs on the synthetic demo extract unless INPUT is given.
DEMO_YEAR ?= 2024
DEMO_SEED ?= 7
DEMO_PLAN ?= data/plans/demo.yaml
DEMO := data/synthetic/demo_$(DEMO_YEAR).csv
# The demo extract is taken a month after the year ends, as a real one would be.
DEMO_EXTRACT_DATE := $(shell expr $(DEMO_YEAR) + 1)-01-31
INPUT ?=
EXTRACT_DATE ?=
MAPPING ?=
OUT ?= reports
WORKERS ?= 2
FORCES ?=
# draft (every page says "not for publication") unless a run is released with STATUS=published.
STATUS ?= draft
# Two workers (pytest-xdist): most tests wait on kernels and subprocesses, so two share 2 cores well; the
# tests that read the shared run stay on one worker (tests/conftest.py). PYTEST_ARGS="-n 0" runs them in turn.
PYTEST_ARGS ?= -n 2 --dist loadgroup

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# setuptools prints a ten-line notice on every editable install, whatever the mode; it says nothing to act on
	PYTHONWARNINGS=ignore $(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

.PHONY: help env demo store-demo reports lint test bench css clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 12

env: $(STAMP) ## Create the virtual environment (.venv) and install the toolkit

$(DEMO): toolkit/synthetic/generator.py $(DEMO_PLAN) | $(STAMP)
	$(PY) -m toolkit synth --year $(DEMO_YEAR) --seed $(DEMO_SEED) --plant $(DEMO_PLAN) \
		--extract-date $(DEMO_EXTRACT_DATE) --out $(DEMO)

demo: $(DEMO) ## Generate the synthetic demo national extract

# The national store's demo: every force's own export of each of three years in mixed dialects (one force
# never supplies, one resends a year with corrections), loaded from their manifest, and a report on the last
# year with each force's change on the year before. Minutes: reading the Excel exports is most of it.
STORE_DEMO ?= data/synthetic/store_demo
STORE ?= data/store.duckdb
STORE_SCALE ?= 1
store-demo: $(STAMP) ## The national store's demo: 3 years of per-force exports loaded, last year reported
	@test -f $(STORE_DEMO)/manifest.csv || $(PY) -m toolkit synth --year $$(( $(DEMO_YEAR) - 2 )) --years 3 \
		--seed $(DEMO_SEED) --plant $(DEMO_PLAN) --scale $(STORE_SCALE) --per-force --dialects mixed --out $(STORE_DEMO)
	$(PY) -m toolkit load-manifest $(STORE_DEMO)/manifest.csv --store $(STORE)
	$(PY) -m toolkit status --store $(STORE) | tail -4
	$(PY) -m toolkit run --store $(STORE) --period $(DEMO_YEAR) --status $(STATUS) --out $(OUT) --workers $(WORKERS)

# The demo run says --synthetic: its input is the generator's even when an older copy has no provenance file.
reports: $(STAMP) ## Report for every force: make reports [INPUT=file EXTRACT_DATE=YYYY-MM-DD [MAPPING=m.yaml]] [STATUS=published]
ifeq ($(strip $(INPUT)),)
	@$(MAKE) --no-print-directory $(DEMO)
	$(PY) -m toolkit run --input $(DEMO) --extract-date $(DEMO_EXTRACT_DATE) --synthetic --status $(STATUS) \
		--out $(OUT) --workers $(WORKERS) $(if $(FORCES),--forces $(FORCES))
else
	@test -n "$(EXTRACT_DATE)" || { echo "error: give EXTRACT_DATE=YYYY-MM-DD with INPUT" >&2; exit 2; }
	$(PY) -m toolkit run --input "$(INPUT)" --extract-date $(EXTRACT_DATE) $(if $(MAPPING),--mapping "$(MAPPING)") \
		--status $(STATUS) --out $(OUT) --workers $(WORKERS) $(if $(FORCES),--forces $(FORCES))
endif

lint: $(STAMP) ## Lint code and notebooks (ruff) and check the stage order (import-linter)
	$(PY) -m ruff check toolkit tests benchmarks notebooks
	$(VENV)/bin/lint-imports --no-cache

test: $(STAMP) ## Run the whole test suite
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP) ## Benchmarks (minutes): cleaning, consistency models, findings, the national store, linkage, the pipeline; results in benchmarks/results/
	$(PY) benchmarks/bench_clean.py
	$(PY) benchmarks/bench_consistency.py
	$(PY) benchmarks/bench_findings.py
	$(PY) benchmarks/bench_store.py
	$(PY) benchmarks/bench_linkage.py
	$(PY) benchmarks/bench_pipeline.py

# The published pages inline GOV.UK Frontend's styles, compiled once from its Sass and committed
# (toolkit/templates/css/): only this target needs node and npm; `make reports` never does.
css: ## Rebuild the pages' GOV.UK Frontend stylesheet from its Sass (needs node and npm)
	bash toolkit/templates/css/build.sh

clean: ## Remove generated reports, prepared tables and demo data (keeps the environment)
	rm -rf $(OUT)/*.html $(OUT)/*.csv $(OUT)/run.json data/processed data/synthetic $(STORE) $(STORE).wal
