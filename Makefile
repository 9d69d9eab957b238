.PHONY: setup demo test test-fast lint bench

setup:
	bash scripts/install

demo: setup
	.venv/bin/automl run recipe=dog_classifier

test:
	bash scripts/test

test-fast:
	bash scripts/test -m "not slow"

lint:
	.venv/bin/ruff check automl plugins tests bench
	.venv/bin/lint-imports
	.venv/bin/mypy

bench:
	.venv/bin/python bench/bench_cli.py
	.venv/bin/python bench/bench_income.py
