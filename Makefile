# The two commands a newcomer needs:  make run   and   make test
# Both create .venv on first use and install what they need into it.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# CPU build by default (it is what the tests use). GPU users, see README:
#   make run TORCH_INDEX=https://download.pytorch.org/whl/cu128 TORCH=torch
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
PYTEST_ARGS ?=

.PHONY: run test fuzz lint format typecheck install bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first, so that no other requirement pulls a multi-GB CUDA build by accident.
	$(PY) -c "import torch" 2>/dev/null || \
		$(PY) -m pip install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) -m app serve

test: install lint
	$(PY) -m pytest $(PYTEST_ARGS)

# Schema-driven fuzzing (tests/fuzz) at length: `make test` sends 10 requests per route,
# this many more. Deterministic: the same requests every run.
FUZZ_EXAMPLES ?= 300

fuzz: install
	LORAGATE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest tests/fuzz --timeout=0 $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check app tests bench migrations
	$(PY) -m ruff format --check app tests bench migrations

typecheck: install
	$(PY) -m pip install -q "mypy>=1.11"
	$(PY) -m mypy app

format: install
	$(PY) -m ruff check --fix app tests bench migrations
	$(PY) -m ruff format app tests bench migrations

# CPU benchmarks; bench/gpu_*.py need an NVIDIA GPU and are run by hand there.
BENCHES ?= bench/dedup.py bench/audit.py bench/audit_memory.py bench/caption_lint.py \
	bench/caption_grid.py bench/native_step.py bench/native_memory.py bench/model_numbers.py \
	bench/events.py

bench: install
	@for script in $(BENCHES); do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
