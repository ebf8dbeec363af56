# The two commands: `make demo` runs the console, `make test` runs the whole suite.
# Both create .venv on first use and reinstall only when a requirements file changed.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev

# The test suite's database; pytest-django creates test_<name> beside it.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/eda_console
MYPY_PATHS := apps eda_console tests $(if $(wildcard bench/*.py),bench)

.PHONY: demo test lint ruff typecheck imports pytest bench chromium test-database venv clean-venv

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(RUNTIME_STAMP): requirements.txt | $(PY)
	$(PIP) install -r requirements.txt
	touch $@

# The dev stamp also covers requirements.txt, which requirements-dev.txt includes.
$(DEV_STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install -r requirements-dev.txt
	touch $@ $(RUNTIME_STAMP)

venv: $(RUNTIME_STAMP)

# DEMO_ARGS=--no-simulator (or SIMULATOR_ENABLED=false) runs it without the simulator's traffic.
demo: $(RUNTIME_STAMP)
	@echo "make demo: the simulator places orders with failures; to turn it off: SIMULATOR_ENABLED=false make demo (or make demo DEMO_ARGS=--no-simulator)"
	$(PY) -m eda_console.launch $(DEMO_ARGS)

# Every step runs even when an earlier one failed, so one run reports everything; the exit
# code is non-zero if any step failed.
test: $(DEV_STAMP) chromium test-database
	@failed=""; \
	$(MAKE) --no-print-directory ruff || failed="$$failed ruff"; \
	$(MAKE) --no-print-directory typecheck || failed="$$failed typecheck"; \
	$(MAKE) --no-print-directory imports || failed="$$failed imports"; \
	$(MAKE) --no-print-directory pytest || failed="$$failed pytest"; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed" >&2; exit 1; fi; \
	echo "make test: ruff, typecheck, imports and pytest passed"

lint: ruff typecheck imports

ruff: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(DEV_STAMP)
	$(VENV)/bin/mypy $(MYPY_PATHS)

# The import contracts of .importlinter: the layers, a Django-free domain, no import cycles.
imports: $(DEV_STAMP)
	$(VENV)/bin/lint-imports --no-cache

# pytest's exit code 5 means it collected no test: that is a failure here, said out loud.
pytest: $(DEV_STAMP) test-database
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" $(VENV)/bin/pytest tests; \
	status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; \
	exit $$status

# Browser tests drive Debian's Chromium; Playwright's own browser download does not work here.
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; \
	else \
		echo "make test: /usr/bin/chromium is missing; install Debian's chromium package as root" >&2; exit 1; \
	fi

test-database: $(DEV_STAMP)
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" $(PY) -m eda_console.launch.database

# The benchmarks, in this order; each runs even when an earlier one failed, and the
# exit code is non-zero if any failed.
BENCH_MODULES := bench.eventstore bench.pipeline bench.console bench.sagas

bench: $(DEV_STAMP) test-database
	@failed=""; \
	for module in $(BENCH_MODULES); do \
		echo "== $$module"; \
		DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" $(PY) -m $$module || failed="$$failed $$module"; \
	done; \
	if [ -n "$$failed" ]; then echo "make bench: FAILED:$$failed" >&2; exit 1; fi

clean-venv:
	rm -rf $(VENV)
