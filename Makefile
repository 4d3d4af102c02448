# quantdesk: `make demo` and `make test` work on a fresh machine with only Python 3.11+ and pip.
# They bootstrap uv (into the user site when it is absent) and sync the locked environment themselves.

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
RUN := $(UV) run --locked --no-progress
# Packages are installed as bytecode (--compile-bytecode): a command then starts without compiling SQLAlchemy, pandas
# or skfolio from source, also where Python may not write bytecode itself (PYTHONDONTWRITEBYTECODE, read-only dirs).
PYTEST_WORKERS ?= auto

.PHONY: help bootstrap sync demo test lint fmt bench clean

help:
	@echo "make demo   - install everything and run the quantdesk demo"
	@echo "make test   - install everything, run lint, then the test suite"
	@echo "make lint   - ruff, ruff format --check, mypy --strict, import contracts"
	@echo "make fmt    - format and autofix with ruff"
	@echo "make bench  - run the benchmarks (not part of make test)"

bootstrap:
	@$(UV) --version >/dev/null 2>&1 || { \
		echo "uv not found: installing it with pip"; \
		$(PYTHON) -m pip install --user --quiet uv 2>/dev/null || $(PYTHON) -m pip install --quiet uv; \
	}

sync: bootstrap
	@$(UV) sync --locked --no-progress --quiet --compile-bytecode
	@$(UV) run --locked --no-progress --quiet python -m compileall -q -j 0 src >/dev/null

demo: sync
	$(RUN) quantdesk demo

lint: sync
	$(RUN) ruff check src tests benchmarks examples
	$(RUN) ruff format --check src tests benchmarks examples
	$(RUN) mypy
	$(RUN) lint-imports

fmt: sync
	$(RUN) ruff check --fix src tests benchmarks examples
	$(RUN) ruff format src tests benchmarks examples

test: lint
	$(RUN) pytest -n $(PYTEST_WORKERS) -q

bench: bootstrap
	@$(UV) sync --locked --no-progress --quiet --compile-bytecode --group bench
	$(UV) run --locked --no-progress --group bench python benchmarks/run.py $(BENCH)

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache .hypothesis
