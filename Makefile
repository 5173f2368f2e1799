# The verbs an operator uses. `make run` and `make test` need only Rust (and
# Python 3, which the deploy tools are installed with).
SHELL := /bin/bash
CARGO ?= cargo
PORT ?= 3000
CONFIG ?= config.ini
STACK ?= ivr
ARCH ?= arm64
FUNCTIONS := $(notdir $(patsubst %/,%,$(wildcard functions/*/)))
VENV := .venv
VBIN := $(CURDIR)/$(VENV)/bin
# cargo-lambda finds zig through the venv's python: the venv goes first on PATH.
TOOLS_ENV := PATH="$(VBIN):$$PATH" SAM_CLI_TELEMETRY=0
# The paths template.yaml names: the functions' zips and the config layer's folder.
LAMBDA_DIR := target/lambda
CONFIG_LAYER := target/config-layer
ifeq ($(ARCH),arm64)
  RUST_TARGET := aarch64-unknown-linux-gnu
  LAMBDA_ARCH_FLAG := --arm64
else
  RUST_TARGET := x86_64-unknown-linux-gnu
  LAMBDA_ARCH_FLAG := --x86-64
endif

.PHONY: run test check lint unit deploy-tests bench coldstart fmt tools build config-layer preflight validate deploy logs sizes

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

# Two runs so that `make check` (`cargo run --bin ivr`) reuses this build:
# shared's dev-dependency criterion turns on std features of num-traits,
# either and regex-automata, so one `cargo test --workspace` built the whole
# AWS SDK with them and `cargo run` built it again without. Now only shared
# and what sits under it (chrono, tokio, tracing-subscriber, lambda_http,
# reqwest) are built twice.
unit:
	$(CARGO) test --workspace --exclude shared
	$(CARGO) test -p shared --all-features

## deploy-tests: the bootstraps (release code without LTO: [profile.bootstrap-test]) against a Lambda Runtime API emulator
deploy-tests:
	$(CARGO) build --profile bootstrap-test $(addprefix -p ,$(FUNCTIONS))
	python3 tests/lambda_bootstrap.py --bin-dir $(or $(CARGO_TARGET_DIR),target)/bootstrap-test $(FUNCTIONS)

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

## config-layer: the checked config.ini in $(CONFIG_LAYER)/config.ini, the template's ConfigLayer (/opt/config.ini on Lambda)
config-layer:
	$(CARGO) run -q --bin ivr -- check $(CONFIG)
	@mkdir -p $(CONFIG_LAYER)
	cp $(CONFIG) $(CONFIG_LAYER)/config.ini

## build: release zips of every function for $(ARCH) in $(LAMBDA_DIR)/<function>/bootstrap.zip, and the config layer
build: tools config-layer
	rustup target add $(RUST_TARGET) || { echo "Cannot add the $(RUST_TARGET) Rust target: use 'make build ARCH=x86_64' and deploy with 'make deploy ARCH=x86_64'"; exit 1; }
	$(TOOLS_ENV) cargo lambda build --release $(LAMBDA_ARCH_FLAG) --output-format zip --lambda-dir $(LAMBDA_DIR) $(addprefix -p ,$(FUNCTIONS))
	@echo $(ARCH) > $(LAMBDA_DIR)/ARCH
	@$(MAKE) --no-print-directory sizes

sizes:
	@for f in $(FUNCTIONS); do printf '%-18s %8d bytes\n' $$f $$(stat -c %s $(LAMBDA_DIR)/$$f/bootstrap.zip); done

PING_RATE = $(shell $(CARGO) run -q --bin ivr -- check --print-ping-rate $(CONFIG))

## preflight: what a deploy needs that no build can fix, checked before anything is built
preflight:
	@test -n "$$TWILIO_AUTH_TOKEN" || { echo "make deploy: TWILIO_AUTH_TOKEN is not set: export TWILIO_AUTH_TOKEN=<your auth token, from the Twilio console>"; exit 1; }
	@[[ -z "$$TWILIO_ACCOUNT_SID" || "$$TWILIO_ACCOUNT_SID" =~ ^AC[0-9a-fA-F]{32}$$ ]] || { echo "make deploy: TWILIO_ACCOUNT_SID is not an account SID: export TWILIO_ACCOUNT_SID=AC<32 hex digits>"; exit 1; }
	@region="$${AWS_REGION:-$${AWS_DEFAULT_REGION:-$$(sed -n 's/^region *= *//p' "$${AWS_CONFIG_FILE:-$$HOME/.aws/config}" 2>/dev/null | head -n 1)}}"; \
	  test -n "$$region" || { echo "make deploy: no AWS region: export AWS_REGION=eu-west-2 (or set region in ~/.aws/config)"; exit 1; }
	@{ test -n "$$AWS_ACCESS_KEY_ID" || test -n "$$AWS_PROFILE" || test -n "$$AWS_WEB_IDENTITY_TOKEN_FILE" || test -n "$$AWS_CONTAINER_CREDENTIALS_FULL_URI" \
	  || test -s "$${AWS_SHARED_CREDENTIALS_FILE:-$$HOME/.aws/credentials}" || grep -qs sso_ "$${AWS_CONFIG_FILE:-$$HOME/.aws/config}"; } \
	  || { echo "make deploy: no AWS credentials: export AWS_PROFILE=<profile> (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run aws configure)"; exit 1; }

## deploy: preflight → check → build → validate → sam deploy (guided the first time); the template names the built zips, so SAM builds nothing
deploy: preflight check build validate
	$(TOOLS_ENV) sam deploy --template-file template.yaml $(if $(wildcard samconfig.toml),,--guided) --stack-name $(STACK) \
	  --capabilities CAPABILITY_IAM --resolve-s3 \
	  --parameter-overrides Architecture=$$(cat $(LAMBDA_DIR)/ARCH) PingRateMinutes=$(PING_RATE) \
	    TwilioAccountSid="$$TWILIO_ACCOUNT_SID" TwilioAuthToken="$$TWILIO_AUTH_TOKEN" ApiKeys="$$IVR_API_KEYS" $(DEPLOY_PARAMS)

## logs: tail CloudWatch logs (all functions, or FUNCTION=menu-option)
logs: tools
	$(TOOLS_ENV) sam logs --stack-name $(STACK) --tail \
	  $(if $(FUNCTION),-n $(shell echo '$(FUNCTION)' | sed -E 's/(^|-)([a-z])/\U\2/g')Function)

## bench: per-request TwiML and config parsing (criterion), cold start of every function, the work-item API's latency
bench:
	$(CARGO) bench -p shared --bench twiml
	python3 infra/coldstart.py
	$(CARGO) build --release --bin ivr
	python3 infra/api_bench.py

coldstart:
	python3 infra/coldstart.py

fmt:
	$(CARGO) fmt --all
