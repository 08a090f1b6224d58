# Cloister: `make demo` runs the main job, `make test` runs every test. Both install what is missing first.

SWIFT ?= swift
# Debian packages the build and the tests need: OpenSSL 3 (headers and the static libcrypto.a every executable links),
# headers for libcbor and SQLite, pkg-config to find them,
# the openssl CLI (interop tests), venv support for the Python interop tools, and a PostgreSQL server that the tests
# start on loopback for the several-replica tests (scripts/with-postgres), and curl (the demo; libcurl for the HTTP clients).
APT_PACKAGES := libssl-dev libcbor-dev libsqlite3-dev pkg-config openssl python3-venv postgresql curl strace
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
VENV := .venv
PYTHON := $(CURDIR)/$(VENV)/bin/python
STAMP := .build/.venv-requirements

.PHONY: all build release test demo deps venv layers bench bench-floor fuzz format lint clean

all: build

## deps: install missing Debian packages (apt-get, with sudo when not root)
deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

## venv: a Python venv with the independent implementations used by interop tests
venv: $(STAMP)
$(STAMP): Tests/Interop/requirements.txt | deps
	@test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r Tests/Interop/requirements.txt
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps jax-privacy==2.0.0
	@mkdir -p .build && touch $@

build: deps
	$(SWIFT) build

# Release executables are stripped: the platform measures (hashes) every byte of cloister-enclave at each launch.
RELEASE := -c release -Xlinker -s

release: deps
	$(SWIFT) build $(RELEASE)

## layers: the module graph keeps its layering (docs/ARCHITECTURE.md); the check first proves it reports forbidden edges
layers: deps
	scripts/check-layers --self-test

## test: the layering, then every test, with the interop venv, the vectors in Tests/Vectors and a throwaway PostgreSQL
## on loopback; then every fuzz target for FUZZ_SECONDS under libFuzzer from a fixed seed, built unoptimised, a target
## a core at a time (the build included, under 10 minutes; the driver's clean build is 6 to 7 of them on 2 slow cores)
FUZZ_SECONDS ?= 5
test: deps venv layers
	scripts/with-postgres env CLOISTER_PYTHON=$(PYTHON) $(SWIFT) test
	CLOISTER_FUZZ_SEED=1 CLOISTER_FUZZ_OPTIMIZE=no scripts/fuzz $(FUZZ_SECONDS)

## fuzz: every fuzz target for SECONDS_PER_TARGET (default 60) under libFuzzer and AddressSanitizer (scripts/fuzz)
SECONDS_PER_TARGET ?= 60
fuzz: deps
	scripts/fuzz $(SECONDS_PER_TARGET)

## demo: the main job: platform, signed manifest, enclave launch, quote, verification (scripts/demo)
demo: deps
	$(SWIFT) build $(RELEASE) --product cloister
	$(SWIFT) build $(RELEASE) --product cloister-enclave
	scripts/demo

## bench: package-benchmark suite (nested package in Benchmarks/)
bench: deps
	cd Benchmarks && $(SWIFT) package benchmark

## bench-floor: our rates divided by `openssl speed` on this machine, from one run
bench-floor: deps
	scripts/bench-floor

format:
	$(SWIFT) format --in-place --recursive Sources Tests Benchmarks/Benchmarks

lint: layers
	$(SWIFT) format lint --strict --recursive Sources Tests

clean:
	rm -rf .build $(VENV) Benchmarks/.build Fuzz/.build
