# The two commands a newcomer needs:  make run   and   make test
# Both create .venv on first use and install what they need into it.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Exact versions of everything below except torch (its dependencies included);
# `make lock` refreshes it.
LOCK := requirements.lock
# Which build of this version pip picks is its choice for the platform (on Linux, PyPI
# gives the CUDA build; the test machines have the CPU wheel). Choose one, see README:
#   make run TORCH_INDEX=https://download.pytorch.org/whl/cu128 TORCH=torch==2.13.0
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
# Optional parts for `make run`, comma-separated: captioners (the WD14 tagger),
# optimizers (prodigy, lion), cuda (bitsandbytes). `make test` installs what it tests.
EXTRAS ?=
PYTEST_ARGS ?=

comma := ,
TORCH_STAMP := $(VENV)/.installed-torch
RUN_STAMP := $(VENV)/.installed-run$(if $(EXTRAS),-$(subst $(comma),-,$(EXTRAS)))
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test fuzz lint format typecheck install bench clean lock lock-check

# torch first, so that no other requirement pulls a multi-GB CUDA build by accident; its
# dependencies come at the locked versions. A TORCH_INDEX (PyTorch's own) may not hold
# those versions, so from there torch brings the ones it chooses.
$(TORCH_STAMP):
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || \
		$(PY) -m pip install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),-c $(LOCK)) "$(TORCH)"
	touch $@

$(RUN_STAMP): pyproject.toml $(LOCK) | $(TORCH_STAMP)
	$(PY) -m pip install -q -c $(LOCK) -e ".$(if $(EXTRAS),[$(EXTRAS)])"
	touch $@

$(DEV_STAMP): pyproject.toml $(LOCK) | $(TORCH_STAMP)
	$(PY) -m pip install -q -c $(LOCK) -e ".[dev]"
	touch $@

install: $(DEV_STAMP)

run: $(RUN_STAMP)
	$(PY) -m app serve

test: install lint
	$(PY) -m pytest $(PYTEST_ARGS)

# Schema-driven fuzzing (tests/fuzz) at length: `make test` sends 10 requests per route,
# this many more. Deterministic: the same requests every run.
FUZZ_EXAMPLES ?= 300

fuzz: install
	LORAGATE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest tests/fuzz --timeout=0 $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check app tests bench tools
	$(PY) -m ruff format --check app tests bench tools

typecheck: install
	$(PY) -m pip install -q "mypy>=1.11"
	$(PY) -m mypy app

format: install
	$(PY) -m ruff check --fix app tests bench tools
	$(PY) -m ruff format app tests bench tools

# CPU benchmarks; bench/gpu_*.py need an NVIDIA GPU and are run by hand there.
BENCHES ?= bench/dedup.py bench/audit.py bench/cli_start.py bench/audit_memory.py bench/caption_lint.py \
	bench/caption_grid.py bench/native_step.py bench/native_memory.py bench/model_numbers.py \
	bench/events.py bench/trainer_output.py bench/eval_grid.py bench/run_overhead.py

bench: install
	@for script in $(BENCHES); do echo "== $$script"; $(PY) $$script || exit 1; done

# A fresh resolution of loragate[dev] (newest versions pyproject allows) in a throwaway
# venv, written to the lock. Commit the lock after `make clean test` passes with it.
LOCK_VENV ?= $(CURDIR)/.lock-venv

lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH)"
	$(LOCK_VENV)/bin/python -m pip install -q -e ".[dev]"
	$(LOCK_VENV)/bin/python tools/lock.py write $(LOCK)
	rm -rf $(LOCK_VENV)

# Whether .venv holds exactly the locked versions (CI runs it on a fresh install).
lock-check: install
	$(PY) tools/lock.py check $(LOCK)

clean:
	rm -rf $(VENV) $(LOCK_VENV) .pytest_cache .ruff_cache
