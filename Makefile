# fivelens: one Makefile for the Rust core, the Python wheel, the Node addon and the uniffi library.
#
#   make demo    an instrumented example agent on the embedded store, then its trace and stats
#   make test    everything: lints, Rust, Python, Node, Kotlin and deploy tests (what CI runs)
#   make uniffi  the Kotlin sources and the Swift package generated from the uniffi library
#   make dist    the wheel and the npm tarball under dist/
#   make bench   benchmarks against the peers (see benches/README.md)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
ROOT := $(CURDIR)
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
ifeq ($(strip $(CARGO_TARGET_DIR)),)
CARGO_TARGET_DIR := $(ROOT)/target
endif
export CARGO_TARGET_DIR
export PYO3_PYTHON := $(PY)
RECEIVER := $(CARGO_TARGET_DIR)/debug/otlp-receiver

.PHONY: all setup test lint test-rust test-python test-python-openai2 test-node test-kotlin uniffi demo dist dist-check py-stage bench python-dev python-release node-dev node-release receiver types fmt clean test-deploy otelcol

all: test

# ---- set-up -------------------------------------------------------------------------------

$(VENV)/.installed: bindings-python/requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r bindings-python/requirements-dev.txt
	touch $@

VENV_OPENAI2 := $(ROOT)/.venv-openai2
$(VENV_OPENAI2)/.installed: bindings-python/requirements-openai2.txt
	python3 -m venv $(VENV_OPENAI2)
	$(VENV_OPENAI2)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_OPENAI2)/bin/python -m pip install --quiet -r bindings-python/requirements-openai2.txt
	touch $@

# The deploy tests' engines (chDB, Arize Phoenix), heavy, in their own virtualenv.
VENV_DEPLOY := $(ROOT)/.venv-deploy
$(VENV_DEPLOY)/.installed: deploy/tests/requirements.txt
	python3 -m venv $(VENV_DEPLOY)
	$(VENV_DEPLOY)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_DEPLOY)/bin/python -m pip install --quiet -r deploy/tests/requirements.txt
	touch $@

bindings-node/node_modules/.installed: bindings-node/package.json bindings-node/package-lock.json
	cd bindings-node && npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed bindings-node/node_modules/.installed

python-dev: $(VENV)/.installed
	cd bindings-python && $(VENV)/bin/maturin develop --quiet

python-release: $(VENV)/.installed
	cd bindings-python && $(VENV)/bin/maturin develop --quiet --release

node-dev: bindings-node/node_modules/.installed
	cd bindings-node && cargo build --quiet -p fivelens-node && node scripts/copy-addon.js debug

node-release: bindings-node/node_modules/.installed
	cd bindings-node && cargo build --quiet -p fivelens-node --release && node scripts/copy-addon.js release

receiver:
	cargo build --quiet -p fivelens-tests --bin otlp-receiver

# ---- checks ---------------------------------------------------------------------------------

test: lint test-rust test-python test-python-openai2 test-node test-kotlin test-deploy

lint: $(VENV)/.installed bindings-node/node_modules/.installed
	cargo fmt --all -- --check
	cargo clippy --quiet --workspace --all-targets -- -D warnings
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/typos
	test -z "$$(gofmt -l tests/collector)" || (gofmt -l tests/collector && exit 1)
	$(MAKE) --no-print-directory types
	git diff --exit-code -- bindings-node/types || (echo "bindings-node/types is stale: run make types and commit" && exit 1)

types: bindings-node/node_modules/.installed
	cd bindings-node && rm -rf types && npx tsc -p tsconfig.json

test-rust:
	cargo test --quiet --workspace

# (node-dev: the cross-language MCP tests run a Node client and server with the built addon.)
test-python: python-dev node-dev receiver
	$(VENV)/bin/mypy --strict bindings-python/python/fivelens
	cd bindings-python && $(PY) -m mypy.stubtest fivelens._native
	cd bindings-python && FIVELENS_OTLP_RECEIVER=$(RECEIVER) $(PY) -m pytest -q -p no:cacheprovider tests

# The OpenAI tests again against the SDK's 2.x line, CrewAI, and MCP's 1.x line (CrewAI pins it), in their own virtualenv.
test-python-openai2: python-dev $(VENV_OPENAI2)/.installed
	cd bindings-python && VIRTUAL_ENV=$(VENV_OPENAI2) $(VENV)/bin/maturin develop --quiet
	cd bindings-python && $(VENV_OPENAI2)/bin/python -m pytest -q -p no:cacheprovider tests/test_openai.py tests/test_crewai.py tests/test_mcp_v1.py

test-node: node-dev receiver
	cd bindings-node && FIVELENS_OTLP_RECEIVER=$(RECEIVER) node --test --test-concurrency=1 --test-reporter=spec test/

# The tier beyond one machine (deploy/): the Collector configurations on otelcol-fivelens, built
# from the Collector's Go modules by tests/collector/build.sh (kept in $(CARGO_TARGET_DIR)/otelcol-fivelens/
# and the go command's caches), the ClickHouse schema on chDB, the Prometheus rules and the Grafana
# dashboard on a real Prometheus, and a Phoenix server. The instrumented apps run with .venv and node.
otelcol:
	tests/collector/build.sh

test-deploy: python-dev node-dev receiver $(VENV_DEPLOY)/.installed
	tests/collector/build.sh
	FIVELENS_OTELCOL="$$(tests/collector/build.sh)" FIVELENS_OTLP_RECEIVER=$(RECEIVER) FIVELENS_APP_PYTHON=$(PY) \
		$(VENV_DEPLOY)/bin/python -m pytest -q -p no:cacheprovider deploy/tests

# Kotlin and Swift: uniffi-bindgen (built from bindings-uniffi, so pinned to its uniffi) reads the
# library's metadata and writes the Kotlin sources and the Swift package under target/uniffi/.
# There is no Swift toolchain here: check.sh checks the generated Swift against the header and the
# library's exported symbols instead of compiling it.
UNIFFI_OUT := $(CARGO_TARGET_DIR)/uniffi
UNIFFI_LIB := $(CARGO_TARGET_DIR)/debug/libfivelens_uniffi.so
UNIFFI_GEN := $(CARGO_TARGET_DIR)/debug/uniffi-bindgen generate $(UNIFFI_LIB) --no-format --metadata-no-deps
SWIFT_PKG := $(UNIFFI_OUT)/swift/Fivelens
uniffi:
	cargo build --quiet -p fivelens-uniffi --lib --bin uniffi-bindgen
	rm -rf $(UNIFFI_OUT) && mkdir -p $(SWIFT_PKG)/Sources/Fivelens $(SWIFT_PKG)/Sources/FivelensFFI
	$(UNIFFI_GEN) --language kotlin --out-dir $(UNIFFI_OUT)/kotlin
	$(UNIFFI_GEN) --language swift --out-dir $(UNIFFI_OUT)/swift/generated
	cp $(UNIFFI_OUT)/swift/generated/Fivelens.swift $(SWIFT_PKG)/Sources/Fivelens/
	cp $(UNIFFI_OUT)/swift/generated/FivelensFFI.h bindings-uniffi/swift/module.modulemap $(SWIFT_PKG)/Sources/FivelensFFI/
	cp bindings-uniffi/swift/Package.swift $(SWIFT_PKG)/
	bindings-uniffi/swift/check.sh $(SWIFT_PKG) $(UNIFFI_LIB)

# Maven downloads its plugins and dependencies into ~/.m2 on the first run. MVN_FLAGS: e.g. -o (offline).
test-kotlin: uniffi receiver
	cd bindings-uniffi/kotlin && mvn -B --no-transfer-progress $(MVN_FLAGS) test -Duniffi.generated=$(UNIFFI_OUT)/kotlin -Dfivelens.library.dir=$(CARGO_TARGET_DIR)/debug -Dfivelens.otlp.receiver=$(RECEIVER)

# ---- demo, packages, benchmarks ---------------------------------------------------------------

demo: python-release
	$(PY) examples/agent.py

# maturin does not follow the symlink that puts integrations/python inside the package, so wheels
# are built from a staged copy with the links resolved (maturin develop uses the sources as they
# are, and Python follows the link).
PY_STAGE := $(CARGO_TARGET_DIR)/py-stage
py-stage:
	rm -rf $(PY_STAGE) && mkdir -p $(PY_STAGE)
	cp -rL bindings-python/pyproject.toml bindings-python/README.md bindings-python/python $(PY_STAGE)/
	find $(PY_STAGE) -name __pycache__ -type d -prune -exec rm -rf {} +
	sed -i 's|^manifest-path = .*|manifest-path = "$(ROOT)/bindings-python/Cargo.toml"|' $(PY_STAGE)/pyproject.toml

dist: $(VENV)/.installed node-release py-stage
	rm -rf dist && mkdir -p dist
	cd $(PY_STAGE) && $(VENV)/bin/maturin build --quiet --release --out $(ROOT)/dist
	rm -rf $(CARGO_TARGET_DIR)/npm-stage && mkdir -p $(CARGO_TARGET_DIR)/npm-stage
	cd bindings-node && cp -rL package.json index.js index.mjs lib integrations bin types *.node README.md $(CARGO_TARGET_DIR)/npm-stage/
	cd $(CARGO_TARGET_DIR)/npm-stage && npm pack --silent --pack-destination $(ROOT)/dist >/dev/null
	ls -l dist

BENCH_PLAIN := $(CARGO_TARGET_DIR)/bench-venv-plain
BENCH_GENAI := $(CARGO_TARGET_DIR)/bench-venv-genai
BENCH_AGENTS := $(CARGO_TARGET_DIR)/bench-venv-agents
BENCH_REDACT := $(CARGO_TARGET_DIR)/bench-venv-redact
BENCH_OUT := benches/results

# The comparisons run the peers (the OpenTelemetry Python and JS SDKs) in the same run on this
# machine; fivelens is also measured in a venv without opentelemetry-api. Results: benches/results/.
# The packages as a user meets them: the wheel in a new virtualenv, the tarball in a new folder,
# both offline, traces read back with the `fivelens` command and at an OTLP receiver.
dist-check: dist receiver
	$(PY) tests/dist_check.py dist $(RECEIVER)

bench: python-release node-release
	cargo build --quiet --release -p fivelens-tests --bin otlp-receiver
	$(MAKE) --no-print-directory py-stage
	rm -rf $(CARGO_TARGET_DIR)/bench-wheel && cd $(PY_STAGE) && $(VENV)/bin/maturin build --quiet --release --out $(CARGO_TARGET_DIR)/bench-wheel
	test -x $(BENCH_PLAIN)/bin/python || python3 -m venv $(BENCH_PLAIN)
	$(BENCH_PLAIN)/bin/python -m pip install --quiet --force-reinstall $(CARGO_TARGET_DIR)/bench-wheel/*.whl
	mkdir -p $(BENCH_OUT)
	$(PY) benches/python/span_overhead.py --plain-python $(BENCH_PLAIN)/bin/python --json $(BENCH_OUT)/python_span.json
	$(PY) benches/python/collector_down.py --receiver $(CARGO_TARGET_DIR)/release/otlp-receiver --json $(BENCH_OUT)/collector_down.json
	node benches/node/span_overhead.js --json $(BENCH_OUT)/node_span.json
	node benches/node/langchain_overhead.js --json $(BENCH_OUT)/langchain_overhead.json
	$(BENCH_PLAIN)/bin/python benches/python/sampling_overhead.py --json $(BENCH_OUT)/sampling_python.json
	node benches/node/sampling_overhead.js --json $(BENCH_OUT)/sampling_node.json
	test -x $(BENCH_GENAI)/bin/python || python3 -m venv $(BENCH_GENAI)
	$(BENCH_GENAI)/bin/python -m pip install --quiet -r benches/python/requirements-genai.txt
	$(BENCH_GENAI)/bin/python -m pip install --quiet --force-reinstall --no-deps $(CARGO_TARGET_DIR)/bench-wheel/*.whl
	$(BENCH_GENAI)/bin/python benches/python/openai_overhead.py --receiver $(CARGO_TARGET_DIR)/release/otlp-receiver --json $(BENCH_OUT)/openai_overhead.json
	$(BENCH_GENAI)/bin/python benches/python/tokens.py --json $(BENCH_OUT)/tokens.json
	test -x $(BENCH_AGENTS)/bin/python || python3 -m venv $(BENCH_AGENTS)
	$(BENCH_AGENTS)/bin/python -m pip install --quiet -r benches/python/requirements-agents.txt
	$(BENCH_AGENTS)/bin/python -m pip install --quiet --force-reinstall --no-deps $(CARGO_TARGET_DIR)/bench-wheel/*.whl
	$(BENCH_AGENTS)/bin/python benches/python/langgraph_overhead.py --receiver $(CARGO_TARGET_DIR)/release/otlp-receiver --json $(BENCH_OUT)/langgraph_overhead.json
	test -x $(BENCH_REDACT)/bin/python || python3 -m venv $(BENCH_REDACT)
	$(BENCH_REDACT)/bin/python -m pip install --quiet -r benches/python/requirements-redact.txt
	$(BENCH_REDACT)/bin/python -m pip install --quiet --force-reinstall --no-deps $(CARGO_TARGET_DIR)/bench-wheel/*.whl
	$(BENCH_REDACT)/bin/python benches/python/redact.py --json $(BENCH_OUT)/redact.json
	cargo bench --quiet -p fivelens-benches --bench core
	cargo bench --quiet -p fivelens-benches --bench tokens
	cargo bench --quiet -p fivelens-benches --bench redact

fmt: $(VENV)/.installed
	cargo fmt --all
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf dist $(CARGO_TARGET_DIR)/npm-stage bindings-node/*.node
