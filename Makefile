# karpshift — make help lists the targets.
SHELL := /usr/bin/env bash
GO    ?= go
PKGS  := ./...
BIN   := bin/karpshift
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -s -w -X main.version=$(VERSION)

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/karpshift
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/karpshift

.PHONY: test
test: ## Unit and integration tests (moto_server), with the race detector
	$(GO) test -race -count=1 $(PKGS)

.PHONY: e2e
e2e: ## End-to-end suite on a real local control plane (builds the stack, cached)
	bash e2e/run.sh

.PHONY: test-all
test-all: verify test e2e ## What CI runs: verify, unit and integration tests, then the end-to-end suite

.PHONY: bench
bench: ## Go benchmarks (prints ratios where a comparison exists)
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

.PHONY: bench-compare
bench-compare: ## Karpenter's own scheduling benchmark vs karpshift's provisioner (prints ratios)
	bash migrate/provision/bench/compare.sh

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME (default 30s)
	bash .ci/fuzz.sh $${FUZZTIME:-30s}

.PHONY: verify
verify: ## gofmt, go vet, go mod tidy check, import boundaries
	bash .ci/verify.sh

.PHONY: demo
demo: ## Run the whole migration on the embedded sample cluster (no cloud needed)
	$(GO) run ./cmd/karpshift demo
