# uniformer_mm -- one-command set-up and test.
#   make test       create/refresh .venv (scripts/bootstrap.sh), run the fast tests
#   make test-all   ... and the slow ones too
#   make test-slow  the slow (end-to-end) ones only
#   make demo       run the demo (tools/demo/run_demo.py)
#   make bench      speed/memory vs the official computation (tools/analysis/benchmark.py)
#   make clean-venv remove .venv

PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: venv test test-all test-slow demo bench clean-venv

venv:
	@bash scripts/bootstrap.sh

test: venv
	$(PY) -m pytest -q tests -m "not slow" $(PYTEST_ARGS)

test-all: venv
	$(PY) -m pytest -q tests $(PYTEST_ARGS)

test-slow: venv
	$(PY) -m pytest -q tests -m slow $(PYTEST_ARGS)

demo: venv
	$(PY) tools/demo/run_demo.py

bench: venv
	$(PY) tools/analysis/benchmark.py --sections backbone --cases s-224,s-h14

clean-venv:
	rm -rf .venv
