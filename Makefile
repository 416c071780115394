# StackMix-HTR. `make demo` and `make test` work on a fresh machine with only Python 3.10+:
# they create .venv, install the package, then run.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: install demo demo-method test test-fast bench preview-aug prepare-poilus prepare-corpora clean help
.DEFAULT_GOAL := help

help:  ## list the targets
	@grep -E '^[a-zA-Z_%-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the package with its dev tools

demo: $(STAMP)  ## train + evaluate on the embedded synthetic dataset (CPU, 10-26 min)
	$(PY) train.py $(ARGS)

demo-method: $(STAMP)  ## the method end to end on synthetic: base, char masks, bank, base vs blots_stackmix, 7 epochs each (CPU, ~16 min)
	$(PY) prepare.py task=demo_method dataset=synthetic $(ARGS)

test: $(STAMP)  ## run the whole test suite (what CI runs)
	$(PY) -m pytest -q $(ARGS)

test-fast: $(STAMP)  ## the suite without the `slow` tests (subprocess trainings): the edit-test loop
	$(PY) -m pytest -q -m "not slow" $(ARGS)

bench: $(STAMP)  ## run the CPU benchmarks under bench/ (not peer_kraken.py: it trains for an hour; not rotation_cut.py: it needs --data)
	@for b in $(filter-out bench/peer_kraken.py bench/rotation_cut.py,$(wildcard bench/*.py)); do echo "== $$b"; $(PY) $$b || exit 1; done

preview-aug: $(STAMP)  ## PNG grid of augmented training samples (synthetic data unless ARGS="dataset=poilus aug=blots")
	$(PY) prepare.py task=preview_aug dataset=synthetic aug=blots $(ARGS)

prepare-poilus: $(STAMP)  ## download CREMMA-AN-TestamentsDePoilus (CC BY 4.0, ~250 MB) and convert it to dataset.root
	$(PY) prepare.py task=dataset dataset=poilus task.download=true $(ARGS)

prepare-corpora: $(STAMP)  ## download + unpack the original StackMix corpora (external texts for StackMix)
	$(PY) prepare.py task=corpus name=corpora $(ARGS)

prepare-%: $(STAMP)  ## convert a downloaded dataset: make prepare-iam ARGS="raw=/path/to/download"
	$(PY) prepare.py task=dataset dataset=$* $(ARGS)

clean:  ## remove outputs (keeps .venv and the data/cache folders)
	rm -rf outputs multirun .pytest_cache
