# litemaas-controller — the two commands of the README are `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
export LITEMAAS_CACHE ?= $(HOME)/.cache/litemaas-controller
# the oldest supported ansible-core with its kubernetes.core (hack/setup.sh builds it): tested by make test
export LITEMAAS_OLDEST_ENV ?= $(LITEMAAS_CACHE)/ansible-2.16
PROFILE ?= aws
REAL ?= 0
SANDBOX_DIR ?= .sandbox
PY := $(VENV)/bin/python
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/$(VENV)/collections
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
PYTEST_ARGS ?=
# make test runs test modules on this many workers (pytest-xdist), a whole module on one worker so
# its shared sandboxes and instances start once; in collection order, the long end-to-end ones first
TEST_WORKERS ?= 2

.PHONY: setup sandbox-build sandbox-up sandbox-down demo test test-unit lint collection decision-environment bench clean

setup:
	@hack/setup.sh

sandbox-build: setup
	@sandbox/build.sh

sandbox-up: sandbox-build
	@$(PY) -m sandbox --dir $(SANDBOX_DIR) up --profile $(PROFILE) $(if $(filter 1,$(REAL)),--real)

sandbox-down:
	@pid=$$(cat $(SANDBOX_DIR)/controller/pid 2>/dev/null); \
	if [ -n "$$pid" ] && kill -TERM "$$pid" 2>/dev/null; then \
	  echo "stopping the demo controller ($$pid)"; \
	  for i in $$(seq 150); do kill -0 "$$pid" 2>/dev/null || break; sleep 0.2; done; \
	fi
	@pid=$$(cat $(SANDBOX_DIR)/controller/redis/pid 2>/dev/null); \
	if [ -n "$$pid" ] && kill -TERM "$$pid" 2>/dev/null; then echo "stopping the demo's Redis ($$pid)"; fi
	@if [ -x $(PY) ]; then $(PY) -m sandbox --dir $(SANDBOX_DIR) down; fi

# Real workloads by default for the demo (PostgreSQL + the real LiteLLM, ~700 MiB); REAL=0: simulated.
demo: sandbox-build
	@REAL=$(if $(filter file default,$(origin REAL)),1,$(REAL)) hack/demo.sh

test: sandbox-build
	$(MAKE) lint
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

test-unit: setup
	$(VENV)/bin/pytest -m unit $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check service sandbox tests bench plugins extensions
	$(VENV)/bin/ruff format --check service sandbox tests bench plugins extensions
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ansible-lint --profile production playbooks roles
	$(VENV)/bin/hadolint Containerfile
	# the Python floors: modules run on the play's host (3.6+), controller-side plugins on
	# ansible-core 2.16's controller (3.10+)
	$(VENV)/bin/vermin -q --no-tips --eval-annotations --violations -t=3.6- plugins/modules plugins/module_utils
	$(VENV)/bin/vermin -q --no-tips --eval-annotations --violations -t=3.10- plugins/action plugins/filter plugins/doc_fragments extensions

collection: setup
	$(VENV)/bin/ansible-galaxy collection build --force --output-path build/

# The rulebooks' decision environment (decision-environment.yml): its build context, for podman.
decision-environment: collection
	$(VENV)/bin/pip wheel -q --no-deps -w build/ .
	$(VENV)/bin/ansible-builder create -f decision-environment.yml -c build/decision-environment \
	  --output-filename Containerfile

bench: sandbox-build
	$(PY) -m bench

clean: sandbox-down
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
