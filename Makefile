# The verbs people guess. Everything runs inside .venv.
PY := .venv/bin/python

.PHONY: install demo test services lint typecheck bench

install:
	python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"

demo:
	bash scripts/demo.sh

services:
	bash scripts/services.sh

test:
	bash scripts/test.sh

lint:
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench

typecheck:
	.venv/bin/mypy src

bench:
	$(PY) bench/bench_engine.py
