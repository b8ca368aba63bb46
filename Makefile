# Every command a contributor runs; DEVELOPING.md explains each. Tools are installed when missing
# and reused when present, so a fresh machine needs nothing by hand.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

WASM_BINDGEN_VERSION := 0.2.130
WASM_TARGET := wasm32-unknown-unknown
# The deployed workers (built, size-checked and dry-run); the stand-in is built too, never deployed.
WORKERS := ingest serve compact ledger
BUILD := build
CARGO ?= cargo
NODE_BIN := node_modules/.bin
export WRANGLER_SEND_METRICS := false
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: help tools build size test test-rust test-node check-nostd clippy fmt-check dev token dry-run clean fuzz-build fuzz soak

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

## build: the four workers (and the local stand-in) → build/<worker>/{entry.mjs,guard.mjs,index.js,index_bg.wasm}
# Ingest is built on its own: one cargo invocation unifies the features of every package it
# builds, and serve's (shared's `std`/`reader`, serde_json's `std`) cost ingest 1.3 KB of gzip.
build: tools
	$(CARGO) build --release --target $(WASM_TARGET) -p ingest-worker
	$(CARGO) build --release --target $(WASM_TARGET) -p serve-worker -p compact-worker -p ledger-worker -p standin-worker
	@for w in $(WORKERS) standin; do tools/package-worker.sh $$w $(BUILD)/$$w; done
	@$(CARGO) run -q --bin size -- $(BUILD)

## size: the budget table; fails when a worker is over budget
size:
	@$(CARGO) run -q --bin size -- $(BUILD)

## test: everything CI runs; the runners' own summaries come last
test: fmt-check build check-nostd clippy fuzz-build test-rust test-node

## fmt-check: rustfmt's check (rustfmt.toml is the house style) over the workspace, then the fuzz
## crate, its own workspace. Fix with `cargo fmt --all && (cd fuzz && cargo fmt --all)`.
fmt-check:
	$(CARGO) fmt --all -- --check
	cd fuzz && $(CARGO) fmt --all -- --check

check-nostd: tools
	$(CARGO) build -p shared --no-default-features --target $(WASM_TARGET)

clippy: tools
	$(CARGO) clippy -q --workspace --all-targets -- -D warnings
	$(CARGO) clippy -q -p shared --features reader --all-targets -- -D warnings
	$(CARGO) clippy -q --target $(WASM_TARGET) -p ingest-worker -p serve-worker -p compact-worker -p ledger-worker -p standin-worker -p iceberg-writer -p compactor -p shared --no-default-features -- -D warnings

test-rust:
	$(CARGO) test -p artifact-tools
	$(CARGO) test -p serve-worker -p standin-worker -p compact-worker -p ledger-worker --lib
	$(CARGO) test -p iceberg-writer
	$(CARGO) test -p compactor
	$(CARGO) test -p artifacts-cli
	$(CARGO) test -p shared --features reader

# The suite runs with the serving table on (the harness's default); then serve's specs again with it
# off (SERVING=off: serve reads the tables only, the stand-in does not compact), so both paths answer alike.
test-node: tools pyenv
	node --test --test-concurrency=1 tests/
	SERVING=off node --test --test-concurrency=1 tests/serve-*.test.mjs tests/serving-*.test.mjs

## pyenv: .venv with pyiceberg for the interop tests, versions pinned in tools/python-requirements.txt
.PHONY: pyenv
PYTHON3 ?= python3
pyenv: .venv/stamp
.venv/stamp: tools/python-requirements.txt
	@[ -x .venv/bin/python ] || $(PYTHON3) -m venv .venv
	.venv/bin/pip install --disable-pip-version-check -q -r tools/python-requirements.txt
	@touch $@

## dev: build, then run both workers and the stand-in until Ctrl-C. WAREHOUSE_DIR, WAREHOUSE_LOCATION,
## TABLES, INGEST_PORT, SERVE_PORT (and AUTH_SECRET) reach tools/dev.mjs only when set: make exports
## what comes from the environment or the command line by itself, and `export NAME` would hand an
## unset NAME on as "" (which dev.mjs also reads as unset).
dev: build
	node tools/dev.mjs

## compact: run the serving table's compactor once over a warehouse directory and print its report, e.g.
## make compact WAREHOUSE_DIR=/abs/dir [TABLES=a/b,c/d] [FULL=1] [FROM_SCRATCH=1] [SERVING_ROOT=serving/artifacts]
##   [SERVING_SPLITS=b1,b2 [RANGE=i]] [SERVING_GRACE_SECONDS=900]
## (TABLES default: the stand-in's three tables; WAREHOUSE_LOCATION: another prefix their locations use;
## SERVING_SPLITS: key-range boundaries, each range compacted in turn, or range i only)
.PHONY: compact
compact:
	@if [ -z "$(strip $(WAREHOUSE_DIR))" ]; then echo "make compact: WAREHOUSE_DIR=/abs/dir is required" >&2; exit 2; fi
	@$(CARGO) run -q --bin compact -- --warehouse '$(strip $(WAREHOUSE_DIR))' --tables '$(strip $(TABLES))' \
	  --full='$(strip $(FULL))' --from-scratch='$(strip $(FROM_SCRATCH))' --serving-root '$(strip $(SERVING_ROOT))' \
	  --location-prefix '$(strip $(WAREHOUSE_LOCATION))' --splits='$(strip $(SERVING_SPLITS))' --range='$(strip $(RANGE))' \
	  --grace-seconds='$(strip $(SERVING_GRACE_SECONDS))'

## token: print a signed dev token, e.g. make token ORG=acme SUB=alice SCOPES='write:*'
# Defaults also when the variable is set but empty (an empty value means unset, as for make dev).
ORG := $(or $(ORG),acme)
SUB := $(or $(SUB),alice)
SCOPES := $(or $(SCOPES),write:* read:*)
TTL := $(or $(TTL),86400)
token:
	@$(CARGO) run -q --bin token -- --org '$(ORG)' --sub '$(SUB)' --scopes '$(SCOPES)' --ttl '$(TTL)'

## dry-run: wrangler deploy --dry-run for the four configs (also run by the Miniflare suite)
dry-run: build
	@for w in $(WORKERS); do $(NODE_BIN)/wrangler deploy --dry-run --outdir $(BUILD)/dry-run/$$w -c wrangler/$$w.toml; done

## stream-schema: regenerate wrangler/stream-schema.json (the record contract as a Pipelines stream schema)
## from shared::record::COLUMNS; `cargo test -p artifact-tools` fails while the file is stale
.PHONY: stream-schema provision deploy
stream-schema:
	$(CARGO) run -q --bin stream_schema -- --out wrangler/stream-schema.json

## provision: print, in order, the wrangler commands that create the bucket, its catalog, the streams,
## sinks and pipelines, and the KV namespace (docs/deploy.md); APPLY=1 runs them and writes the ids
## into the workers' configs (ingest, serve, compact, ledger; the queues of the compact worker and the
## ledger's outbox too) (needs SINK_CATALOG_TOKEN)
provision:
	@node tools/provision.mjs $(if $(filter 1 true yes,$(APPLY)),--apply)

## deploy: build, then deploy the four workers with the configs provision filled in (refused while they still
## hold the committed placeholders or disagree on LEDGER_SHARDS): the ledger first — ingest, serve and compact
## bind its Durable Object class by script_name, which fails while the class does not exist. INGEST_SECRETS /
## SERVE_SECRETS / COMPACT_SECRETS (optional): a .env or JSON file of secrets uploaded with the deployment
## (the ledger has no secrets)
deploy: build
	@node tools/provision.mjs --check
	$(NODE_BIN)/wrangler deploy -c wrangler/ledger.toml
	$(NODE_BIN)/wrangler deploy -c wrangler/ingest.toml $(if $(INGEST_SECRETS),--secrets-file $(INGEST_SECRETS))
	$(NODE_BIN)/wrangler deploy -c wrangler/serve.toml $(if $(SERVE_SECRETS),--secrets-file $(SERVE_SECRETS))
	$(NODE_BIN)/wrangler deploy -c wrangler/compact.toml $(if $(COMPACT_SECRETS),--secrets-file $(COMPACT_SECRETS))

## fuzz-build: build every fuzz target (fuzz/ is its own cargo-fuzz workspace; see SECURITY.md)
fuzz-build:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked || $(CARGO) install cargo-fuzz
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz build

## fuzz: run each fuzz target for FUZZ_RUNS executions, then replay fuzz/regressions
FUZZ_RUNS ?= 1000000
fuzz: fuzz-build
	FUZZ_RUNS=$(FUZZ_RUNS) fuzz/run-all.sh

## soak: the full round trip under load (10,000 artifacts, 16 clients; tools/soak.mjs), then the CLI's spec at 3,000 pages
## and the JS client's putMany of 3,000 records, each read back
soak: build
	node tools/soak.mjs
	CLI_TEST_PAGES=3000 node --test tests/cli.test.mjs
	JS_CLIENT_SOAK_RECORDS=3000 node --test --test-name-pattern soak tests/js-client.test.mjs

## bench: benchmarks, never part of `make test`: build, then serve, ingest, size, then BENCHMARKS.md
.PHONY: bench bench-ingest bench-size
BENCH_RUNS ?= 5
BENCH_SIZE_RUNS ?= 11
TWIGGY_VERSION := 0.8.0
# The native ingest peer is built twice from the release profile: opt-level 3 (the fair native
# peer) and the workers' own opt-level "z". Profiles are defined here so Cargo.toml stays size-first.
BENCH_NATIVE := --config 'profile.bench-native.inherits="release"' --config 'profile.bench-native.opt-level=3'
BENCH_NATIVE_Z := --config 'profile.bench-native-z.inherits="release"'
bench: build
	@$(MAKE) --no-print-directory bench-serve bench-compact bench-ledger bench-links bench-ingest bench-size
	node bench/report.mjs

## bench-compact: the rate one compact worker sustains in workerd (30 s CPU, 128 MB) → bench/out/compact.{md,json} (needs build)
.PHONY: bench-compact
bench-compact: tools
	@test -f $(BUILD)/compact/entry.mjs || $(MAKE) --no-print-directory build
	node bench/compact/run.mjs

## bench-links: what supersede costs a read (#18): misses of plain, superseded and successor artifacts, listing pages with and without supersede edges → bench/out/links.{md,json} (needs build)
.PHONY: bench-links
bench-links: tools
	@test -f $(BUILD)/serve/entry.mjs || $(MAKE) --no-print-directory build
	node bench/links/run.mjs

## bench-ledger: read-your-writes latency per mode and ledger/KV operations and cost per million records → bench/out/ledger.{md,json} (needs build)
.PHONY: bench-ledger
bench-ledger: tools
	@test -f $(BUILD)/ledger/entry.mjs || $(MAKE) --no-print-directory build
	node bench/ledger/run.mjs

## bench-ingest: ingest in Miniflare vs native on 10 and 100 MB NDJSON → bench/out/ingest.{md,json} (needs build)
bench-ingest: tools
	$(CARGO) build -q $(BENCH_NATIVE) --profile bench-native --bin bench_ingest_native
	$(CARGO) build -q $(BENCH_NATIVE_Z) --profile bench-native-z --bin bench_ingest_native
	node bench/ingest/run.mjs --runs $(BENCH_RUNS) --native target/bench-native/bench_ingest_native \
	  --native-z target/bench-native-z/bench_ingest_native

## bench-size: sizes vs budget, instantiate/start-up times, twiggy → bench/out/size.{md,json} (needs build)
bench-size: tools
	@command -v twiggy >/dev/null || $(CARGO) install twiggy --version $(TWIGGY_VERSION) --locked
	node bench/size/run.mjs --runs $(BENCH_SIZE_RUNS)

## bench-serve: serve lookups on generated tables (20k/200k/1M rows × 10/100/1,000/10,000 files), scan and serving table, vs hyparquet and pyarrow
## → bench/out/serve.{md,json} and bench/out/bytes-requests-vs-files.png (needs build; tables in bench/.data)
.PHONY: bench-serve
BENCH_SERVE_DATA := bench/.data
BENCH_SERVE_SAMPLES ?= 100
BENCH_SERVE_REPS ?= 3
# Seconds per table for our native lookups and for each peer (at least 3 ids each either way).
BENCH_SERVE_BUDGET ?= 20
BENCH_SERVE_MF_TABLES ?= bench/r20000_f10,bench/r20000_f100,bench/r20000_f1000,bench/r200000_f10,bench/r200000_f100
MATPLOTLIB_VERSION := 3.9.2
PYARROW_VERSION := 18.1.0
bench-serve: tools
	@test -f $(BUILD)/serve/entry.mjs || $(MAKE) --no-print-directory build
	$(CARGO) build -q $(BENCH_NATIVE) --profile bench-native --bin bench_tables
	$(CARGO) build -q $(BENCH_NATIVE_Z) --profile bench-native-z --bin bench_tables
	@test -x bench/.venv/bin/python || python3 -m venv bench/.venv
	@bench/.venv/bin/python -c 'import matplotlib, pyarrow, sys; sys.exit(matplotlib.__version__ != "$(MATPLOTLIB_VERSION)" or pyarrow.__version__ != "$(PYARROW_VERSION)")' 2>/dev/null \
	  || bench/.venv/bin/pip install -q matplotlib==$(MATPLOTLIB_VERSION) pyarrow==$(PYARROW_VERSION)
	target/bench-native/bench_tables generate --data $(BENCH_SERVE_DATA)
	target/bench-native/bench_tables compact --data $(BENCH_SERVE_DATA) --out $(BENCH_SERVE_DATA)/compact.json
	target/bench-native-z/bench_tables measure --data $(BENCH_SERVE_DATA) --samples $(BENCH_SERVE_SAMPLES) \
	  --reps $(BENCH_SERVE_REPS) --budget-secs $(BENCH_SERVE_BUDGET) --out $(BENCH_SERVE_DATA)/native.json
	HYPARQUET_TABLE_BUDGET_MS=$(BENCH_SERVE_BUDGET)000 node bench/serve/hyparquet.mjs $(BENCH_SERVE_DATA)/native.json \
	  $(BENCH_SERVE_DATA)/warehouse $(BENCH_SERVE_DATA)/hyparquet.json 30 $(BENCH_SERVE_REPS)
	PEER_TABLE_BUDGET_MS=$(BENCH_SERVE_BUDGET)000 bench/.venv/bin/python bench/serve/pyarrow_peer.py $(BENCH_SERVE_DATA)/native.json \
	  $(BENCH_SERVE_DATA)/warehouse $(BENCH_SERVE_DATA)/pyarrow.json 30 $(BENCH_SERVE_REPS)
	node bench/serve/miniflare.mjs $(BENCH_SERVE_DATA)/native.json $(BENCH_SERVE_DATA)/warehouse \
	  $(BENCH_SERVE_DATA)/miniflare.json $(BENCH_SERVE_MF_TABLES) 10 3
	node bench/serve/report.mjs $(BENCH_SERVE_DATA)/native.json $(BENCH_SERVE_DATA)/hyparquet.json \
	  $(BENCH_SERVE_DATA)/miniflare.json bench/out $(BENCH_SERVE_DATA)/pyarrow.json $(BENCH_SERVE_DATA)/compact.json
	bench/.venv/bin/python bench/serve/plot.py bench/out/serve.json bench/out/bytes-requests-vs-files.png

## bench-codec: the serving table's page codec (#15): the 200k×100 and 1M×100 tables compacted once per codec
## (serving-<codec>/<name>), native CPU and the built worker in workerd per codec → bench/.data/codec-*.json and the
## "Page codec" table (printed; the next `make bench-serve` puts it in serve.md). Needs build; tables in bench/.data.
.PHONY: bench-codec
BENCH_CODECS ?= snappy,zstd,lz4_raw
BENCH_CODEC_TABLES ?= 200000x100,1000000x100
BENCH_CODEC_ROOTS ?= bench/r200000_f100,bench/r1000000_f100
# Ids per codec and table in workerd (each after 30 warm-up lookups of other ids).
BENCH_CODEC_IDS ?= 300
bench-codec: tools
	@test -f $(BUILD)/serve/entry.mjs || $(MAKE) --no-print-directory build
	$(CARGO) build -q $(BENCH_NATIVE) --profile bench-native --bin bench_tables
	$(CARGO) build -q $(BENCH_NATIVE_Z) --profile bench-native-z --bin bench_tables
	target/bench-native/bench_tables generate --data $(BENCH_SERVE_DATA) --tables $(BENCH_CODEC_TABLES)
	target/bench-native/bench_tables compact --data $(BENCH_SERVE_DATA) --tables $(BENCH_CODEC_TABLES) --codecs $(BENCH_CODECS) \
	  --out $(BENCH_SERVE_DATA)/codec-compact.json
	target/bench-native-z/bench_tables measure --data $(BENCH_SERVE_DATA) --tables $(BENCH_CODEC_TABLES) --codecs-only \
	  --samples $$(($(BENCH_CODEC_IDS) + 31)) --reps $(BENCH_SERVE_REPS) --out $(BENCH_SERVE_DATA)/codec-native.json
	BENCH_MF_DIR=$(BENCH_SERVE_DATA)/codec-mf BENCH_MF_CODEC_WARMUP=30 node bench/serve/miniflare.mjs $(BENCH_SERVE_DATA)/codec-native.json \
	  $(BENCH_SERVE_DATA)/warehouse $(BENCH_SERVE_DATA)/codec-miniflare.json $(BENCH_CODEC_ROOTS) $(BENCH_CODEC_IDS) 0 --codecs-only
	node bench/serve/codec.mjs $(BENCH_SERVE_DATA)

clean:
	rm -rf $(BUILD) target .tools-stamp
