# Two commands do everything on a fresh machine (the virtual environment is made if missing):
#   make run  [ARGS="--epochs 1 --subset 5000"]   train and compare the CNN in both frameworks
#   make test                                      the test suite (two workers)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: run test venv clean-venv

# Re-installs when requirements.txt changes; the stamp is written only after a full install.
$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(PY) compare.py --model cnn --backend both $(ARGS)

# Two workers (pytest-xdist): most tests wait on a framework's start-up in a child process, so two
# at a time take about 70 % of the serial time on 2 cores. A module whose tests share one costly
# run (a module-scoped fixture) is one xdist_group, kept on one worker, so that run is made once.
# Then the parity, rules and TTA tests again with Keras on JAX: the same Keras models, ported
# weights, optimizers and TTA must give PyTorch's numbers there too, and the porting bugs must be
# caught there too (the tests of TensorFlow-only parts skip, and those of `compare.py parity` and
# `verify`, which set the backend themselves, ran once already). -rfEs lists every skip with its
# reason. Each pass lists its slowest tests: CI must stay under 45 minutes on the slowest machine.
test: $(STAMP)
	$(PY) -m pytest -q -rfEs -n 2 --dist loadgroup --durations=15 tests
	KERAS_BACKEND=jax $(PY) -m pytest -q -rfEs -n 2 --dist loadgroup --durations=5 tests/test_parity.py tests/test_airbench.py \
		tests/test_tta.py tests/test_rules.py -k "not parity_command and not verify_command and not training_run"

clean-venv:
	rm -rf $(VENV)
