# The two commands: `make run` (sandbox server) and `make test`. Both set everything up first.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.stepbot-installed

.PHONY: run test lint format bench check schema clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

run: $(STAMP)
	@scripts/system-deps.sh --run
	$(BIN)/stepbot run

test: $(STAMP)
	@scripts/system-deps.sh
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot liff

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python bench/webhook.py

check: $(STAMP)
	$(BIN)/stepbot check $${STEPBOT_SCENARIO:-examples/welcome.yaml}

schema: $(STAMP)
	$(BIN)/stepbot schema > docs/scenario.schema.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
