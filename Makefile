# Every target sets itself up from a fresh clone: it creates .venv and installs the project.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,sample-data,bench]'
	touch $(STAMP)

## demo: the executor in paper mode, replaying real EURUSD H1 bars into the MT5 emulator (SQLite).
demo: $(STAMP)
	$(BIN)/trademaestro run examples/strategies/eurusd_h1_ema_cross.json --data sample:EURUSD_H1 --speed 0

## test: lint, type-check and the whole test suite on the real data in ../shared/data.
## The fast tests run on two workers; the slow, timing-sensitive ones (chaos drill, 60 s stress
## test) run afterwards, side by side, without the fast tests competing for the cores.
test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest -q -n 2 --dist worksteal -m "not slow"
	$(BIN)/pytest -q -n 2 --dist worksteal -m slow

bench: $(STAMP)
	$(BIN)/python benchmarks/backtest_speed.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
