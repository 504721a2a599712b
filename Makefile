# crmclean: `make demo` runs the daily job on fresh demo data; `make test` runs every test.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .uv/bin/uv
VENV := .venv
PEOPLE ?= 10000

.PHONY: setup demo run test lint ui bench bench-deps system-deps clean

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install -q uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --inexact
	touch $@

setup: $(VENV)/.synced

demo: setup
	$(VENV)/bin/crmclean demo-data --people $(PEOPLE) --seed 42
	$(VENV)/bin/crmclean run

run: setup
	$(VENV)/bin/crmclean run

# Tests start a real OpenSSH server, headless Chromium and a local Spark (Java 17): install them
# when missing (as root).
system-deps:
	@missing=""; \
	[ -x /usr/sbin/sshd ] || missing="$$missing openssh-server"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v java >/dev/null || missing="$$missing openjdk-17-jre-headless"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "please install:$$missing (sudo apt-get install$$missing)"; exit 1; fi; \
	fi

test: setup system-deps lint
	$(VENV)/bin/pytest

lint: setup
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

ui: setup
	$(VENV)/bin/crmclean ui

bench-deps: $(UV)
	$(UV) sync --frozen --inexact --group bench

bench: setup bench-deps
	$(VENV)/bin/python benchmarks/demo_data.py --rows 1000000
	$(VENV)/bin/python benchmarks/ingest.py --rows 1000000
	$(VENV)/bin/python benchmarks/normalize.py --rows 1000000
	$(VENV)/bin/python benchmarks/dedupe.py --people 100000

clean:
	rm -rf data .uv $(VENV)
