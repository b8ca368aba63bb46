# Every command a contributor runs; DEVELOPING.md explains each. Tools are installed when missing
# and reused when present, so a fresh machine needs nothing by hand.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

WASM_BINDGEN_VERSION := 0.2.130
WASM_TARGET := wasm32-unknown-unknown
WORKERS := ingest serve
BUILD := build
CARGO ?= cargo
NODE_BIN := node_modules/.bin
export WRANGLER_SEND_METRICS := false
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: help tools build size test test-rust test-node check-nostd clippy dev token dry-run clean fuzz-build fuzz

help:
	@echo "make dev    build both workers and run them locally (ingest :8787, serve :8788)"
	@echo "make test   every suite: cargo test, no_std build, clippy, size, wrangler dry runs, Miniflare"
	@echo "more in DEVELOPING.md"

## tools: install what is missing (rustup target, pinned wasm-bindgen-cli, npm ci)
tools: .tools-stamp
.tools-stamp: package-lock.json Makefile
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	@if [ "$$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $(WASM_BINDGEN_VERSION)" ]; then \
	  echo "installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION) (about 5 minutes)"; \
	  $(CARGO) install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION); fi
	@if [ ! -x $(NODE_BIN)/miniflare ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
	  npm ci --no-audit --no-fund; fi
	@touch $@

## build: both workers (and the local stand-in) → build/<worker>/{entry.mjs,index.js,index_bg.wasm}
build: tools
	$(CARGO) build --release --target $(WASM_TARGET) -p ingest-worker -p serve-worker -p standin-worker
	@for w in $(WORKERS) standin; do tools/package-worker.sh $$w $(BUILD)/$$w; done
	@$(CARGO) run -q --bin size -- $(BUILD)

## size: the budget table; fails when a worker is over budget
size:
	@$(CARGO) run -q --bin size -- $(BUILD)

## test: everything CI runs; the runners' own summaries come last
test: build check-nostd clippy fuzz-build test-rust test-node

check-nostd: tools
	$(CARGO) build -p shared --no-default-features --target $(WASM_TARGET)

clippy: tools
	$(CARGO) clippy -q --workspace --all-targets -- -D warnings
	$(CARGO) clippy -q -p shared --features reader --all-targets -- -D warnings
	$(CARGO) clippy -q --target $(WASM_TARGET) -p ingest-worker -p serve-worker -p standin-worker -p shared --no-default-features -- -D warnings

test-rust:
	$(CARGO) test -p artifact-tools
	$(CARGO) test -p serve-worker -p standin-worker --lib
	$(CARGO) test -p shared --features reader

test-node: tools
	node --test --test-concurrency=1 tests/

## dev: build, then run both workers (and later the stand-in) until Ctrl-C
export WAREHOUSE_DIR WAREHOUSE_LOCATION TABLES INGEST_PORT SERVE_PORT
dev: build
	node tools/dev.mjs

## token: print a signed dev token, e.g. make token ORG=acme SUB=alice SCOPES='write:*'
ORG ?= acme
SUB ?= alice
SCOPES ?= write:* read:*
TTL ?= 86400
token:
	@$(CARGO) run -q --bin token -- --org '$(ORG)' --sub '$(SUB)' --scopes '$(SCOPES)' --ttl '$(TTL)'

## dry-run: wrangler deploy --dry-run for both configs (also run by the Miniflare suite)
dry-run: build
	@for w in $(WORKERS); do $(NODE_BIN)/wrangler deploy --dry-run --outdir $(BUILD)/dry-run/$$w -c wrangler/$$w.toml; done

## fuzz-build: build every fuzz target (fuzz/ is its own cargo-fuzz workspace; see SECURITY.md)
fuzz-build:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked || $(CARGO) install cargo-fuzz
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz build

## fuzz: run each fuzz target for FUZZ_RUNS executions, then replay fuzz/regressions
FUZZ_RUNS ?= 1000000
fuzz: fuzz-build
	FUZZ_RUNS=$(FUZZ_RUNS) fuzz/run-all.sh

clean:
	rm -rf $(BUILD) target .tools-stamp
