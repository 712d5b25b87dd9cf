# Set-up and the two everyday commands (see README.md).
#   make demo [CONFIG=...]   set up .venv/, then train+evaluate the embedded demo
#   make test                set up .venv/, then run the test suite
PYTHON := .venv/bin/python
CONFIG ?= configs/eca/eca_resnet18_1xb64_30e_digits.py
WORK_DIR ?= work_dirs/$(basename $(notdir $(CONFIG)))
PYTEST_ARGS ?=

.PHONY: env demo test clean

env:
	bash tools/setup_env.sh

demo: env
	$(PYTHON) tools/misc/make_smoke_data.py digits --out data
	$(PYTHON) tools/train.py $(CONFIG) --work-dir $(WORK_DIR)
	$(PYTHON) tools/test.py $(CONFIG) "$$(cat $(WORK_DIR)/last_checkpoint)" \
		--work-dir $(WORK_DIR) --out $(WORK_DIR)/test_metrics.json

test: env
	$(PYTHON) -m pytest tests $(PYTEST_ARGS)

clean:
	rm -rf work_dirs build *.egg-info
