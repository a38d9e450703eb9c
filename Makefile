# The README's two commands are `make run` and `make test`; everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
ARTIFACT ?= artifacts/regional
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-test install-browser install-services build check lint typecheck bench bench-peers bench-trips bench-http bench-build clean clean-kernels

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# The widget's end-to-end test drives Debian's Chromium (never `playwright install`,
# which downloads a browser) and needs the Noto fonts for Mongolian and Chinese labels.
BROWSER_PKGS := chromium fonts-noto-core fonts-noto-cjk
install-browser:
	@if command -v chromium >/dev/null 2>&1 && [ -d /usr/share/fonts/truetype/noto ] \
	    && [ -d /usr/share/fonts/opentype/noto ]; then :; else \
	  echo "installing $(BROWSER_PKGS) with apt-get (needs root)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PKGS); \
	fi

# The station-store tests run on SQLite and on a private PostgreSQL 15 + PostGIS 3
# cluster; the replica test puts Debian's nginx in front of two servers.
SERVICE_PKGS := postgresql-15 postgresql-15-postgis-3 nginx
install-services:
	@if [ -x /usr/lib/postgresql/15/bin/initdb ] \
	    && [ -f /usr/share/postgresql/15/extension/postgis.control ] \
	    && command -v nginx >/dev/null 2>&1; then :; else \
	  echo "installing $(SERVICE_PKGS) with apt-get (needs root)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $(SERVICE_PKGS); \
	fi

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## run: install, build the regional artifact if absent, serve it on http://$(HOST):$(PORT)
run: install
	$(VENV)/bin/locator serve --artifact $(ARTIFACT) --host $(HOST) --port $(PORT) --build-if-missing

## test: install with test extras (and Chromium for the widget test, PostgreSQL and nginx
## for the store and replica tests), run the whole suite
test: install-test install-browser install-services
	$(PY) -m pytest

build: install
	$(VENV)/bin/locator build --out $(ARTIFACT) --force

check: install
	$(VENV)/bin/locator check $(ARTIFACT)

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install-test
	$(VENV)/bin/mypy locator api geodata locator_cli

bench: install-test
	$(PY) benchmarks/bench_load.py
	$(PY) benchmarks/bench_engine.py
	$(PY) benchmarks/bench_engine.py --network helsinki --max-snap-m 1000
	$(PY) benchmarks/bench_circles.py

## bench-peers: side by side with OSRM, Valhalla, pgRouting, Pandana, OSMnx, spopt on
## the regional, Helsinki and world networks, then the HTTP comparison, the streaming
## OSM build and the memory of a second worker, one run (~35 min); installs the peers
## itself; fails when a peer or a step cannot run. NETWORKS=regional EXTRAS= : ~5 min
NETWORKS ?= regional,helsinki,world
EXTRAS ?= http,build,memory
bench-peers: install-test
	$(PY) -m pip install --quiet -e '.[data]'  # scgraph-data: the world network
	$(PY) benchmarks/run_all.py --networks $(NETWORKS) --extras "$(EXTRAS)"

## bench-trips: stations along a trip and rest plans vs OSRM / Valhalla recipes (~4 min)
bench-trips: install-test
	$(PY) benchmarks/bench_trips.py

## bench-http: GET /v1/nearest over HTTP (1 and 2 workers) vs osrm-routed and
## valhalla_service on the same machine (~3 min); installs the peers itself
bench-http: install-test
	$(PY) benchmarks/bench_http.py

## bench-build: streaming OSM build of Helsinki, regional and world (560k nodes) vs osmnx:
## time and peak memory against size, extrapolated to a province (~3 min)
bench-build: install-test
	$(PY) -m pip install --quiet -e '.[data]'  # scgraph-data: the world network
	$(PY) benchmarks/bench_build.py

# numba caches a kernel by its own file's time stamp only: after editing
# locator/network/kernels.py (the heap, compiled into other files' kernels), run
# `make clean-kernels` (fresh clones and installs have no cache to go stale)
clean-kernels:
	find locator geodata -name '*.nbi' -delete -o -name '*.nbc' -delete

clean: clean-kernels
	rm -rf $(VENV) artifacts .pytest_cache .mypy_cache .ruff_cache
