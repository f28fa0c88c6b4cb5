# guardduty-responder: every task a developer or CI runs.
#
#   make demo    set up, start the emulator, quarantine and release a seeded instance
#   make test    fmt check, clippy -D warnings, unit, mock and end-to-end tests, the demo
#   make lint    fmt check and clippy only
#   make build   release build for Lambda, for the template's architecture
#   make package the functions' Lambda zips, with their sizes
#   make infra-check  cfn-lint, checkov and the routing check on infra/
#   make fuzz    a long run of the parser and planner property tests
#   make bench   side-by-side benchmark with Cloud Custodian; writes BENCHMARKS.md
#   make invoke-<function> EVENT=events/<file>.json   (with `cargo lambda watch` running)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

# Builds live outside the work tree so they survive fresh clones.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/gdr-target
export CARGO_TERM_COLOR ?= never

VENV := .tools/venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_LOG := $(CARGO_TARGET_DIR)/test-output.log
FUNCTIONS := $(notdir $(wildcard crates/functions/*))
FUNCTION_PKGS := $(addprefix -p ,$(FUNCTIONS))

.PHONY: setup demo test lint fmt build package infra-check fuzz bench sizes invoke-% clean-tools

# Python-distributed tools (the AWS emulator, cargo-lambda) in a project-local venv.
$(STAMP): tools/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	touch $(STAMP)

CHECKOV_VENV := .tools/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

# checkov pins an older boto3 than the emulator needs: its own venv.
$(CHECKOV_STAMP): tools/requirements-checkov.txt
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements-checkov.txt
	touch $(CHECKOV_STAMP)

setup: $(STAMP) $(CHECKOV_STAMP)

# The deployment templates: cfn-lint (no errors, no warnings), checkov (no
# failed check; skips carry their reason inline), the template's own
# properties (tests/infra/template_checks.py), every IAM policy against the
# action reference (parliament, tests/infra/policy_check.py, with a self-test
# that plants one defect of each kind), and the routing check of
# every rule against every fixture on the emulator's EventBridge.
infra-check: setup
	$(VENV)/bin/cfn-lint infra/template.yaml infra/member-role.yaml
	$(CHECKOV_VENV)/bin/checkov -d infra --framework cloudformation --quiet --compact --skip-download
	$(PY) tests/infra/template_checks.py
	$(PY) tests/infra/policy_check.py
	$(PY) tests/infra/policy_check.py --self-test
	$(PY) tests/infra/routing.py

lint: setup
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

fmt:
	cargo fmt --all

# Unit, SDK-mock and end-to-end tests, then the demo as the check that the
# real binary serves events through the Lambda runtime API.
test: lint infra-check
	cargo test --workspace --locked --no-fail-fast 2>&1 | tee $(TEST_LOG)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" scripts/demo.sh
	@awk '/^test result:/ { p += $$4; f += $$6 } END { printf "cargo test: %d passed, %d failed\n", p, f; exit (p == 0 || f > 0) }' $(TEST_LOG)

demo: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" scripts/demo.sh

# The architecture the template deploys (Globals: Architectures): the zips
# are built for exactly that one. A zip of the other architecture would
# deploy and then fail at every cold start, so a failed build fails here.
TEMPLATE_ARCH := $(shell sed -n 's/^ *Architectures: *\[\([a-z0-9_]*\)\].*/\1/p' infra/template.yaml | head -1)
LAMBDA_ARCH_FLAG := $(if $(filter x86_64,$(TEMPLATE_ARCH)),--x86-64,--arm64)

build: setup
	@test -n "$(TEMPLATE_ARCH)" || { echo "no Architectures in infra/template.yaml"; exit 1; }
	$(if $(filter arm64,$(TEMPLATE_ARCH)),-rustup target add aarch64-unknown-linux-gnu)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release $(LAMBDA_ARCH_FLAG) $(FUNCTION_PKGS) \
	  || { echo "the $(TEMPLATE_ARCH) build failed, and infra/template.yaml deploys $(TEMPLATE_ARCH): no other architecture is built in its place"; exit 1; }

# Lambda zips for `sam deploy` or the console, for the template's
# architecture, with their sizes.
package: setup
	@test -n "$(TEMPLATE_ARCH)" || { echo "no Architectures in infra/template.yaml"; exit 1; }
	$(if $(filter arm64,$(TEMPLATE_ARCH)),-rustup target add aarch64-unknown-linux-gnu)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release $(LAMBDA_ARCH_FLAG) --output-format zip $(FUNCTION_PKGS) \
	  || { echo "the $(TEMPLATE_ARCH) build failed, and infra/template.yaml deploys $(TEMPLATE_ARCH): no other architecture is packaged in its place"; exit 1; }
	@$(PY) bench/zip_sizes.py $(CARGO_TARGET_DIR) $(FUNCTIONS)

invoke-%: setup
	@test -n "$(EVENT)" || { echo "usage: make invoke-$* EVENT=events/<file>.json"; exit 2; }
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda invoke $* --data-file $(EVENT)

# A long run of the parser and planner property tests (make test runs a
# short one). FUZZ_CASES sets how many cases each property gets.
FUZZ_CASES ?= 200000
fuzz:
	PROPTEST_CASES=$(FUZZ_CASES) cargo test --release -p responder-core --test properties

# The benchmark against Cloud Custodian's guard-duty Lambda (bench/run.py):
# release binaries for this machine (what is timed), arm64 zips for the size
# column (best effort), c7n in a venv holding only its own requirements.
C7N_VENV := .tools/c7n
C7N_STAMP := $(C7N_VENV)/.installed
HOST_TRIPLE := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')
BENCH_RUNS ?= 5
BENCH_LATENCY_MS ?= 25
# The burst: this many findings at once (0: none), served by this many
# sandboxes, as the template's ReservedConcurrency parameter would reserve.
BENCH_BURST ?= 100
BENCH_BURST_CONCURRENCY ?= 10

$(C7N_STAMP): tools/requirements-c7n.txt
	python3 -m venv $(C7N_VENV)
	$(C7N_VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements-c7n.txt
	touch $(C7N_STAMP)

bench: setup $(C7N_STAMP)
	cargo build --release --locked --target $(HOST_TRIPLE) $(FUNCTION_PKGS)
	-rustup target add aarch64-unknown-linux-gnu
	-PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release --arm64 --output-format zip \
	  --lambda-dir $(CARGO_TARGET_DIR)/lambda-arm64 $(FUNCTION_PKGS)
	$(PY) bench/run.py --bin-dir $(CARGO_TARGET_DIR)/$(HOST_TRIPLE)/release \
	  --zip-dir $(CARGO_TARGET_DIR)/lambda-arm64 --peer-python $(C7N_VENV)/bin/python \
	  --runs $(BENCH_RUNS) --latency-ms $(BENCH_LATENCY_MS) \
	  --burst $(BENCH_BURST) --burst-concurrency $(BENCH_BURST_CONCURRENCY) \
	  --plots bench/plots --write BENCHMARKS.md

# Each function's release binary, its zip and its cold init against the
# emulator: what linking only its own SDK family costs per function.
sizes: setup
	cargo build --release --locked --target $(HOST_TRIPLE) $(FUNCTION_PKGS)
	$(PY) bench/function_sizes.py --bin-dir $(CARGO_TARGET_DIR)/$(HOST_TRIPLE)/release $(FUNCTIONS)

clean-tools:
	rm -rf .tools
