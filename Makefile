# The verbs an operator uses. `make run` and `make test` need only Rust (and
# Python 3, which the deploy tools are installed with).
SHELL := /bin/bash
CARGO ?= cargo
PORT ?= 3000
CONFIG ?= config.ini
STACK ?= ivr
ARCH ?= arm64
FUNCTIONS := $(notdir $(wildcard functions/*))
VENV := .venv
VBIN := $(CURDIR)/$(VENV)/bin
# cargo-lambda finds zig through the venv's python: the venv goes first on PATH.
TOOLS_ENV := PATH="$(VBIN):$$PATH" SAM_CLI_TELEMETRY=0
LAMBDA_DIR := target/lambda-$(ARCH)
ifeq ($(ARCH),arm64)
  RUST_TARGET := aarch64-unknown-linux-gnu
  LAMBDA_ARCH_FLAG := --arm64
else
  RUST_TARGET := x86_64-unknown-linux-gnu
  LAMBDA_ARCH_FLAG := --x86-64
endif

.PHONY: run test check lint unit deploy-tests bench coldstart fmt tools build validate deploy logs sizes

## run: serve ./config.ini on http://127.0.0.1:$(PORT) (every route, local adapters)
run:
	$(CARGO) run --bin ivr -- serve --config $(CONFIG) --port $(PORT)

## check: validate config.ini (what `make deploy` runs first)
check:
	$(CARGO) run -q --bin ivr -- check $(CONFIG)

## test: everything CI runs
test: test-deps lint unit check validate deploy-tests

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --workspace

## deploy-tests: release bootstraps against a Lambda Runtime API emulator
deploy-tests:
	$(CARGO) build --release $(addprefix -p ,$(FUNCTIONS))
	python3 tests/lambda_bootstrap.py --bin-dir target/release $(FUNCTIONS)

## tools: the deploy tools, in ./.venv (cargo-lambda, zig, SAM CLI, cfn-lint) and moto for tests
tools: $(VENV)/.installed
$(VENV)/.installed:
	python3 -m venv $(VENV)
	$(VBIN)/pip install --quiet --upgrade pip
	$(VBIN)/pip install --quiet cargo-lambda ziglang aws-sam-cli cfn-lint 'moto[server]'
	touch $@

## test-deps: protocol peers for tests: moto (AWS), Prism serving Twilio's OpenAPI spec
NODE_DIR := infra/node
TWILIO_SPEC := $(NODE_DIR)/twilio_api_v2010.json
test-deps: tools $(NODE_DIR)/.installed $(TWILIO_SPEC)
$(NODE_DIR)/.installed:
	mkdir -p $(NODE_DIR)
	cd $(NODE_DIR) && npm init -y >/dev/null && npm install --no-audit --no-fund --silent @stoplight/prism-cli@5
	touch $@
$(TWILIO_SPEC):
	mkdir -p $(NODE_DIR)/pack
	cd $(NODE_DIR)/pack && npm pack --silent @twilio/cli-core@9.0.0 >/dev/null && tar xzf twilio-cli-core-9.0.0.tgz
	cp $(NODE_DIR)/pack/package/src/services/twilio-api/twilio_api_v2010.json $@

## validate: cfn-lint and sam validate --lint on template.yaml
validate: tools
	$(TOOLS_ENV) cfn-lint template.yaml
	$(TOOLS_ENV) sam validate --lint --template-file template.yaml

## build: release zips of every function for $(ARCH) in $(LAMBDA_DIR)/<function>/bootstrap.zip
build: tools
	rustup target add $(RUST_TARGET) || { echo "Cannot add the $(RUST_TARGET) Rust target: use 'make build ARCH=x86_64' and deploy with 'make deploy ARCH=x86_64'"; exit 1; }
	$(TOOLS_ENV) cargo lambda build --release $(LAMBDA_ARCH_FLAG) --output-format zip --lambda-dir $(LAMBDA_DIR) $(addprefix -p ,$(FUNCTIONS))
	@$(MAKE) --no-print-directory sizes

sizes:
	@for f in $(FUNCTIONS); do printf '%-18s %8d bytes\n' $$f $$(stat -c %s $(LAMBDA_DIR)/$$f/bootstrap.zip); done

PING_RATE = $(shell $(CARGO) run -q --bin ivr -- check --print-ping-rate $(CONFIG))

## deploy: check → build → validate → sam build → sam deploy (guided the first time)
deploy: check build validate
	@test -n "$$TWILIO_AUTH_TOKEN" || { echo "Set TWILIO_AUTH_TOKEN (and TWILIO_ACCOUNT_SID) in the environment first"; exit 1; }
	$(TOOLS_ENV) sam build --beta-features --parameter-overrides Architecture=$(ARCH)
	$(TOOLS_ENV) sam deploy $(if $(wildcard samconfig.toml),,--guided) --stack-name $(STACK) \
	  --capabilities CAPABILITY_IAM --resolve-s3 \
	  --parameter-overrides Architecture=$(ARCH) PingRateMinutes=$(PING_RATE) \
	    TwilioAccountSid="$$TWILIO_ACCOUNT_SID" TwilioAuthToken="$$TWILIO_AUTH_TOKEN" $(DEPLOY_PARAMS)

## logs: tail CloudWatch logs (all functions, or FUNCTION=menu-option)
logs: tools
	$(TOOLS_ENV) sam logs --stack-name $(STACK) --tail \
	  $(if $(FUNCTION),-n $(shell echo '$(FUNCTION)' | sed -E 's/(^|-)([a-z])/\U\2/g')Function)

## bench: per-request TwiML and config parsing (criterion), then cold start
bench:
	$(CARGO) bench -p shared --bench twiml
	python3 infra/coldstart.py

coldstart:
	python3 infra/coldstart.py

fmt:
	$(CARGO) fmt --all
