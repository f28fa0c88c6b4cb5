# guardduty-responder: every task a developer or CI runs.
#
#   make demo    set up, start the emulator, quarantine and release a seeded instance
#   make test    fmt check, clippy -D warnings, unit, mock and end-to-end tests, the demo
#   make lint    fmt check and clippy only
#   make build   release build for Lambda (arm64, x86_64 as fallback)
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

.PHONY: setup demo test lint fmt build invoke-% clean-tools

# Python-distributed tools (the AWS emulator, cargo-lambda) in a project-local venv.
$(STAMP): tools/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	touch $(STAMP)

setup: $(STAMP)

lint: setup
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

fmt:
	cargo fmt --all

# Unit, SDK-mock and end-to-end tests, then the demo as the check that the
# real binary serves events through the Lambda runtime API.
test: lint
	cargo test --workspace --locked --no-fail-fast 2>&1 | tee $(TEST_LOG)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" scripts/demo.sh
	@awk '/^test result:/ { p += $$4; f += $$6 } END { printf "cargo test: %d passed, %d failed\n", p, f; exit (p == 0 || f > 0) }' $(TEST_LOG)

demo: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" scripts/demo.sh

build: setup
	-rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release --arm64 $(FUNCTION_PKGS) \
	  || { echo "arm64 build failed; building x86_64"; PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release --x86-64 $(FUNCTION_PKGS); }

invoke-%: setup
	@test -n "$(EVENT)" || { echo "usage: make invoke-$* EVENT=events/<file>.json"; exit 2; }
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda invoke $* --data-file $(EVENT)

clean-tools:
	rm -rf .tools
