# uniformer_mm -- one-command set-up and test.
#   make test       create/refresh .venv (scripts/bootstrap.sh), run the fast tests
#   make test-all   ... and the slow ones too
#   make test-slow  the slow (end-to-end) ones only
#   make test-zoo   tools/dry_run.py on every zoo config (CI mode)
#   make demo       run the demo (tools/demo/run_demo.py)
#   make bench      speed/memory vs the official computation (tools/analysis/benchmark.py)
#   make clean-venv remove .venv

PY := .venv/bin/python
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

test-zoo: venv
	$(PY) -m pytest -q tests -m zoo --durations=0 $(PYTEST_ARGS)

demo: venv
	$(PY) tools/demo/run_demo.py

bench: venv
	$(PY) tools/analysis/benchmark.py --sections backbone --cases s-224,s-h14

clean-venv:
	rm -rf .venv
