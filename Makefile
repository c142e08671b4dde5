# uniformer_mm -- one-command set-up and test.
#   make test       create/refresh .venv (scripts/bootstrap.sh), run the fast tests
#   make test-all   ... and the slow ones too
#   make test-slow  the slow (end-to-end) ones only
#   make test-zoo   tools/dry_run.py on every zoo config (CI mode); -rs prints
#                   why each config covered by another's dry run is skipped
#   make demo       run the demo (tools/demo/run_demo.py)
#   make bench      speed/memory vs the official computation (tools/analysis/benchmark.py);
#                   OFFICIAL=PATH (a checkout or git mirror of github Sense-X/UniFormer)
#                   adds the official code itself and MMAction2's port
#   make clean-venv remove .venv

PY := .venv/bin/python
comma := ,
PYTEST_ARGS ?=

.PHONY: venv test test-all test-slow test-zoo demo bench clean-venv

venv:
	@bash scripts/bootstrap.sh

test: venv
	$(PY) -m pytest -q tests -m "not slow and not zoo" $(PYTEST_ARGS)

test-all: venv
	$(PY) -m pytest -q tests $(PYTEST_ARGS)

test-slow: venv
	$(PY) -m pytest -q tests -m "slow and not zoo" $(PYTEST_ARGS)

# ZOO_WORKERS=N: the zoo's dry runs on N pytest-xdist workers of one torch
# thread each. Off (0) by default: on this 2-core machine two workers were
# not reliably faster (docs/en/dry_run.md)
ZOO_WORKERS ?= 0
ZOO_XDIST := $(if $(filter 0,$(ZOO_WORKERS)),,-n $(ZOO_WORKERS))
ZOO_ENV := $(if $(ZOO_XDIST),OMP_NUM_THREADS=1)

test-zoo: venv
	$(ZOO_ENV) $(PY) -m pytest -q -rs tests -m zoo $(ZOO_XDIST) --durations=0 $(PYTEST_ARGS)

demo: venv
	$(PY) tools/demo/run_demo.py

OFFICIAL ?=
bench: venv
	$(PY) tools/analysis/benchmark.py --cases s-224,s-h14 \
	    --sections backbone$(if $(OFFICIAL),$(comma)official --official-repo $(OFFICIAL))

clean-venv:
	rm -rf .venv
