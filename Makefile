# ldn-derm — every target sets itself up on a fresh machine that has Python 3.11, pip and make.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
TOOLS  := .tools
UV     := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
VENV   := .venv
LDN    := $(VENV)/bin/ldn
export UV_LINK_MODE := copy
# Compile bytecode at install time: where PYTHONDONTWRITEBYTECODE is set (as on this kind of
# machine), Python would otherwise recompile every module on every `ldn` start (~2x slower).
export UV_COMPILE_BYTECODE := 1

.PHONY: help setup run demo test lint typecheck pytest bench system-deps services smart-launcher clean

help:
	@echo "make run    - set up and start ldn-derm (the main job)"
	@echo "make test   - set up, lint, type-check and run the whole test suite"
	@echo "make bench  - run the performance benchmarks in benchmarks/"

# uv is bootstrapped with pip into a private folder when it is not on PATH.
$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-groups
	@$(VENV)/bin/python -m compileall -q src >/dev/null || true
	@touch $@

setup: $(VENV)/.synced

# Debian packages the tests need: Chromium for browser tests. Installed only when missing.
system-deps:
	@bash scripts/system-deps.sh

# Servers the tests talk to (PostgreSQL on this kind of machine); started only when down.
services:
	@bash scripts/ensure-services.sh

# The SMART Health IT launcher the SMART launch tests run against (npm ci, once, into .tools/).
smart-launcher:
	@bash scripts/smart-launcher.sh

run: setup
	@bash scripts/run.sh

demo: setup
	$(LDN) --version
	$(LDN) evidence
	$(LDN) drug

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts

typecheck: setup
	$(VENV)/bin/mypy src

pytest: setup system-deps services smart-launcher
	$(VENV)/bin/pytest -q

test: lint typecheck pytest

bench: setup services
	@bash scripts/system-deps.sh bench
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(VENV)/bin/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache artifacts
