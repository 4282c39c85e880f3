# `make demo` and `make test` install everything into .venv first, so each works on a fresh machine.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin
PIP = $(BIN)/python -m pip install --quiet -c constraints.txt
# llama: the inverter tests run SmolLM2 through llama.cpp, compiled from source on a fresh machine (~10 min)
TEST_EXTRAS = test,minibind,imagebind,clip,llama,lexicon,openai,plot,render,notebooks,eval,ray,sae,serve,docs
# llama-cpp-python compiles llama.cpp from source. Its default, -march=native, takes every instruction the CPU
# advertises; on virtual machines that advertise AMX without enabling it, SmolLM2 then dies with SIGILL or SIGSEGV
# in its first batched decode. AVX2 and FMA run on any x86-64 server of the last decade.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
# MILS's caption files, read where the project keeps them (see README, "Caption banks").
export UNEMBED_MILS_DIR ?= $(abspath ../shared/data/mils)

.PHONY: demo test test-fast docs lint venv

venv:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)

# Installing again only when the package's metadata changes keeps `make test-fast` fast.
$(VENV)/.installed-test: pyproject.toml constraints.txt | venv
	$(PIP) -e ".[$(TEST_EXTRAS)]"
	touch $@

demo: venv
	$(PIP) -e ".[llama,minibind,plot]"
	$(BIN)/unembed demo --out out/demo

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

# Everything but the tests marked slow (LLMs, training, servers, fresh interpreters, notebooks): under a minute on 2 cores.
test-fast: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -m "not slow"

# The docs site (mkdocs.yml, docs/) into site/, offline; a broken link or reference, or a table of figures that
# differs from docs/bench/*.json (docs/figures.py), fails.
docs: $(VENV)/.installed-test
	$(BIN)/python docs/figures.py --check
	$(BIN)/mkdocs build --strict

# ruff (lint and format) and mypy on unembed/ (ruff.toml, mypy.ini).
lint: $(VENV)/.installed-test
	$(BIN)/ruff check unembed
	$(BIN)/ruff format --check unembed
	$(BIN)/mypy
