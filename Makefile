# Two entry points on a fresh clone: `make serve` and `make test`. Each creates .venv and installs
# everything first; `make install` alone gives the `complaints` command.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

CHROMIUM ?= /usr/bin/chromium
DOVECOT ?= /usr/sbin/dovecot
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install browser imap model serve test test-fast lint check-data bench clean

# constraints.txt holds every dependency's version, so a fresh machine installs what was tested.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,spark]'
	touch $(STAMP)

install: $(STAMP)

# The review page is tested in a real headless Chromium: Debian's, since no browser may be
# downloaded by a test tool. Playwright (a dev dependency) drives it.
$(CHROMIUM):
	$(SUDO) apt-get install -y --no-install-recommends chromium || \
		($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium)

browser: $(CHROMIUM)

# The mailbox connector is tested against a real IMAP server: Debian's Dovecot. The tests start
# their own instance (a config of their own in a temporary directory, a high loopback port)
# and stop it; they never use or change the system's Dovecot.
$(DOVECOT):
	$(SUDO) apt-get install -y --no-install-recommends dovecot-imapd || \
		($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends dovecot-imapd)

imap: $(DOVECOT)

# `complaints rescore` runs on Spark, whose pyspark package brings no JVM: Debian's OpenJDK 17.
JAVA ?= /usr/bin/java
$(JAVA):
	$(SUDO) apt-get install -y --no-install-recommends openjdk-17-jre-headless || \
		($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends \
			openjdk-17-jre-headless)

.PHONY: java
java: $(JAVA)

# The deployment (Dockerfile, deploy/compose.yaml) is validated by Debian's docker-compose:
# `docker-compose config` checks the Compose file with no container engine, which none of these
# machines runs. The image itself is not built here.
DOCKER_COMPOSE ?= /usr/bin/docker-compose
$(DOCKER_COMPOSE):
	$(SUDO) apt-get install -y --no-install-recommends docker-compose || \
		($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends docker-compose)

.PHONY: compose
compose: $(DOCKER_COMPOSE)

# Trains the first model from data/annotated/ when none exists yet (about a minute).
model: install
	$(BIN)/complaints model ensure

# WORKERS=2 make serve for more processes; they share metrics through .prometheus/.
serve: model
	@rm -rf .prometheus && mkdir -p .prometheus
	PROMETHEUS_MULTIPROC_DIR=$(CURDIR)/.prometheus $(BIN)/uvicorn pettriage.api.main:app \
		--host $(HOST) --port $(PORT) --workers $${WORKERS:-1}

# The review page's chart library is served by us, never from a CDN: Chart.js's UMD build and
# licence, fetched from the npm registry and checked against api/static/vendor/SHA256SUMS (see
# the README there). The files are in the repository; only this target needs the network.
CHARTJS ?= 4.6.2
VENDOR = api/static/vendor

.PHONY: vendor
vendor:
	tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent chart.js@$(CHARTJS) >/dev/null && \
		tar xzf chart.js-$(CHARTJS).tgz && \
		cp package/dist/chart.umd.min.js $(CURDIR)/$(VENDOR)/chart.umd.min.js && \
		cp package/LICENSE.md $(CURDIR)/$(VENDOR)/chart.js.LICENSE.md && rm -rf $$tmp
	cd $(VENDOR) && sha256sum -c SHA256SUMS

check-data: install
	$(BIN)/complaints data check

# ruff, and the layers' contracts (pyproject.toml, [tool.importlinter]): an import that points up
# fails here.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# Two workers, each taking whole files (module fixtures start their servers once), the longest
# files first (tests/conftest.py, LONGEST_FIRST).
test: install browser imap compose java check-data lint
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder

# The inner loop: the unit tier only (no training, no server, no browser), well under a minute.
test-fast: install
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -m unit -q

# Side by side with fastText and spaCy's textcat, the pipeline's own figures (CLI, cold start,
# latency; `--callgrind` adds instruction counts), then the service under load, then the
# archive re-scored on Spark local[1] and local[2] against the CLI (several minutes).
bench: model java
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench,spark]'
	$(BIN)/python benchmarks/peers.py --markdown benchmarks/peers.md --chart benchmarks/peers.png
	$(BIN)/python benchmarks/pipeline_bench.py --markdown benchmarks/pipeline.md
	$(BIN)/python benchmarks/serve_bench.py
	$(BIN)/python benchmarks/rescore_bench.py

clean:
	rm -rf $(VENV) models/complaint-classifier models/champion.json mlflow.db mlartifacts \
		complaints.db* .prometheus
