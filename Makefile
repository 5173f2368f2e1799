# The verbs an operator uses. `make run` and `make test` need only Rust.
SHELL := /bin/bash
CARGO ?= cargo
PORT ?= 3000
CONFIG ?= config.ini

.PHONY: run test check lint unit bench coldstart fmt

## run: serve ./config.ini on http://127.0.0.1:$(PORT) (every route, local adapters)
run:
	$(CARGO) run --bin ivr -- serve --config $(CONFIG) --port $(PORT)

## check: validate config.ini (what `make deploy` runs first)
check:
	$(CARGO) run -q --bin ivr -- check $(CONFIG)

## test: everything CI runs
test: lint unit check

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --workspace

## bench: per-request TwiML and config parsing (criterion), then cold start
bench:
	$(CARGO) bench -p shared --bench twiml
	python3 infra/coldstart.py

coldstart:
	python3 infra/coldstart.py

fmt:
	$(CARGO) fmt --all
