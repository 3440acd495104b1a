# gutskin — everything is installed from this repository's own files.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
OUT    ?= runs/default
export GUTSKIN_CACHE_DIR ?= $(CURDIR)/.gutskin_cache

.PHONY: r-fixtures validate sensitivity-guide browser install run test test-fast test-slow lint format bench docs clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

## run: the main job on built-in defaults (the Rinaldi 2022 four-arm in-silico trial)
run: install
	$(VENV)/bin/gutskin trial rinaldi2022 --seed 1 --out $(OUT) --overwrite

## docs: regenerate docs/model.md and its figure from the model spec
docs: install
	$(PY) -m gutskin.report.build_docs

## validate: regenerate docs/validation.md (20 replicate trials, 200 for Rinaldi 2022 from one virtual population; ~3 min on 2 cores)
validate: install
	$(PY) -m gutskin.calibrate.validate

## r-fixtures: regenerate the R reference results of the trial statistics (installs R from Debian)
r-fixtures: install
	@command -v Rscript >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends r-base-core r-cran-nlme r-cran-mass \
		r-cran-numderiv r-cran-jsonlite r-cran-mice)
	Rscript tests/reference/make_r_fixtures.R tests/reference/fixtures
	$(PY) tests/reference/make_mi_fixtures.py tests/reference/fixtures
	Rscript tests/reference/make_r_mi_fixtures.R tests/reference/fixtures

## sensitivity-guide: regenerate docs/sensitivity-guide.md (a few minutes)
sensitivity-guide: install
	$(PY) -m gutskin.sensitivity.guide

## test: lint + the whole test suite (slow tests included)
test: install lint browser
	$(PY) -m pytest -q -n 2 --dist loadfile

test-fast: install
	$(PY) -m pytest -q -m "not slow"

test-slow: install
	$(PY) -m pytest -q -m slow

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache --no-logo

format: install
	$(VENV)/bin/ruff check --fix src tests benchmarks
	$(VENV)/bin/ruff format src tests benchmarks

bench: install
	$(PY) benchmarks/bench_engine_vs_scipy.py
	$(PY) benchmarks/bench_vs_roadrunner.py
	$(PY) benchmarks/bench_pipeline.py

clean:
	rm -rf $(VENV) .gutskin_cache .pytest_cache .mypy_cache .ruff_cache runs

## browser: Debian chromium for the headless report/explorer tests
browser:
	@bash scripts/ensure-chromium.sh
