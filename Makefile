# smsconv developer tasks. `make` (or `make help`) lists them.
#
# Everything runs from the repository root through the Go workspace (go.work), so `go build ./services/x/...`
# resolves shared/ without publishing it.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

GO            ?= go
SERVICES      := ingress worker sandbox
BIN           := $(CURDIR)/bin
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS       := -s -w -X main.version=$(VERSION)
TEST_FLAGS    ?= -race -count=1 -timeout 20m
E2E_FLAGS     ?= -count=1 -timeout 30m
FUZZ_TIME     ?= 20s
E2E_PKGS      := ./e2e/... ./browser/... ./internal/chaos/... ./internal/load/...
NATS_VERSION  := v2.14.9
GOLANGCI_LINT ?= golangci-lint

.PHONY: help build test fuzz e2e lint fmt run chaos bench clean nats-server

help: ## Show this help.
	@echo "Usage: make <target>"
	@echo
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{ printf "  %-12s %s\n", $$1, $$2 }'
	@echo
	@echo "Variables: VERSION=$(VERSION)  TEST_FLAGS='$(TEST_FLAGS)'  E2E_FLAGS='$(E2E_FLAGS)'  WORKERS=N (make run)"

build: ## Build bin/ingress, bin/worker and bin/sandbox.
	@mkdir -p $(BIN)
	@for s in $(SERVICES); do \
		echo "go build -o bin/$$s ./services/$$s/cmd/$$s"; \
		CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/$$s ./services/$$s/cmd/$$s; \
	done

# Each module of go.work is vetted and tested in its own directory: `go test ./...` at the root of a workspace
# only covers the root module. A module that fails does not stop the others; the target fails at the end and
# names every failed module. The process-level suites carry the e2e build tag and are left to `make e2e`.
test: ## The fast suite: go vet + go test -race in every module of go.work, then make fuzz (no e2e, chaos or load runs).
	@start=$$(date +%s); failed=(); \
	for dir in $$($(GO) list -m -f '{{.Dir}}'); do \
		mod=$${dir#$(CURDIR)/}; \
		if [ -z "$$(find "$$dir" -name '*.go' -not -path '*/testdata/*' -print -quit)" ]; then \
			echo "=== $$mod: no Go files yet, skipped"; continue; \
		fi; \
		echo "=== $$mod: go vet"; \
		if ! (cd "$$dir" && $(GO) vet ./...); then failed+=("$$mod (vet)"); fi; \
		echo "=== $$mod: go test $(TEST_FLAGS)"; \
		if ! (cd "$$dir" && $(GO) test $(TEST_FLAGS) ./...); then failed+=("$$mod (test)"); fi; \
	done; \
	if ! $(MAKE) fuzz; then failed+=("services/ingress (fuzz)"); fi; \
	took="$$(( $$(date +%s) - start ))s"; \
	if [ $${#failed[@]} -gt 0 ]; then \
		echo; echo "FAILED: $${failed[*]} (make test took $$took)"; exit 1; \
	fi; \
	echo; echo "all modules passed (make test took $$took)"

# Minimizing a new input re-runs the real handler, NATS and Redis thousands of times; a short bound keeps the
# time on finding new inputs.
fuzz: ## Fuzz the signed webhook path through the real ingress handler, NATS and Redis for FUZZ_TIME (default 20s).
	@echo "=== services/ingress: go test -fuzz FuzzWebhook -fuzztime $(FUZZ_TIME)"
	@cd services/ingress && $(GO) test -run '^$$' -fuzz '^FuzzWebhook$$' -fuzztime $(FUZZ_TIME) -fuzzminimizetime 1s ./internal/api/

# The end-to-end suites run the real binaries as processes (package e2e/internal/stack, as make run does): the
# e2e flows, the short fault-injection run and the load smoke run. They build the binaries once per package.
e2e: ## End-to-end, short chaos and load smoke suites against the real processes (e2e build tag).
	@start=$$(date +%s); \
	echo "=== e2e: go vet -tags e2e"; \
	(cd e2e && $(GO) vet -tags e2e ./...); \
	echo "=== e2e: go test -tags e2e $(E2E_FLAGS) $(E2E_PKGS)"; \
	status=0; (cd e2e && $(GO) test -tags e2e $(E2E_FLAGS) $(E2E_PKGS)) || status=$$?; \
	took="$$(( $$(date +%s) - start ))s"; \
	if [ $$status -ne 0 ]; then echo; echo "e2e FAILED (make e2e took $$took)"; exit $$status; fi; \
	echo; echo "e2e passed (make e2e took $$took)"

lint: ## golangci-lint (v2, .golangci.yml) in every module, and gofmt.
	@if ! command -v $(GOLANGCI_LINT) >/dev/null 2>&1; then \
		echo "golangci-lint v2 is not installed. Install it with:"; \
		echo "  go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@latest"; \
		exit 1; \
	fi
	@failed=(); \
	unformatted=$$(gofmt -l shared services e2e); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed (make fmt):"; echo "$$unformatted"; failed+=(gofmt); fi; \
	for dir in $$($(GO) list -m -f '{{.Dir}}'); do \
		mod=$${dir#$(CURDIR)/}; \
		echo "=== $$mod: golangci-lint"; \
		if ! (cd "$$dir" && $(GOLANGCI_LINT) run --config $(CURDIR)/.golangci.yml ./...); then failed+=("$$mod"); fi; \
	done; \
	if [ $${#failed[@]} -gt 0 ]; then echo "lint FAILED: $${failed[*]}"; exit 1; fi

fmt: ## gofmt -w every Go file.
	gofmt -s -w shared services e2e

nats-server: ## Build bin/nats-server (a JetStream 2.11+ server from the Go module) if missing.
	@if [ ! -x $(BIN)/nats-server ]; then \
		echo "GOBIN=bin go install github.com/nats-io/nats-server/v2@$(NATS_VERSION)"; \
		GOBIN=$(BIN) $(GO) install github.com/nats-io/nats-server/v2@$(NATS_VERSION); \
	fi

# The runner is built, not `go run`: go run answers Ctrl-C with exit status 1 even when the runner stopped
# cleanly, and make would report a failure.
run: build nats-server ## Run NATS, Redis, sandbox, ingress and WORKERS=N workers locally (no Docker); state in .run/.
	$(GO) build -o $(BIN)/run ./e2e/cmd/run
	$(BIN)/run

chaos: ## Fault-injection harness (e2e/cmd/chaos); pass flags with ARGS='...'.
	$(GO) run ./e2e/cmd/chaos $(ARGS)

bench: ## Load generator with latency/throughput report (e2e/cmd/loadgen); ARGS='...'.
	$(GO) run ./e2e/cmd/loadgen $(ARGS)

clean: ## Remove bin/ and the local run state in .run/.
	rm -rf $(BIN) .run
