# Jingtong backend. Run `make help` for the targets.

GO          ?= go
BIN         ?= bin
FUNCTIONS   := $(notdir $(wildcard functions/*/cmd/*))
LDFLAGS     := -s -w
# RELEASE_FLAGS build the function binaries that ship: build, cross,
# package-lambda, package-scf, and localdev/bench/platform.sh through
# `make build`. The jt_nosqlite tag leaves the SQLite driver out, so a
# release binary needs JT_DATABASE_URL to name PostgreSQL. infra/Dockerfile
# repeats these flags, and infra/release_test.go checks both.
RELEASE_TAGS  := jt_nosqlite
RELEASE_FLAGS := -trimpath -tags '$(RELEASE_TAGS)' -ldflags '$(LDFLAGS)'
GOLANGCI    := $(GO) tool -modfile=tools.mod golangci-lint

export JT_ADDR     ?= 127.0.0.1:8080
export JT_DATA_DIR ?= ./.data

.PHONY: help dev test test-short bench build cross package-lambda package-scf lint fuzz docs clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

dev: ## run every function in localdev on $(JT_ADDR) with data under $(JT_DATA_DIR)
	@mkdir -p $(BIN)
	@echo "build $(BIN)/localdev" >&2
	@$(GO) build -o $(BIN)/localdev ./localdev/cmd/localdev
	@exec ./$(BIN)/localdev

# JS_CLIENT is the JavaScript envelope client. Its Node test, run by
# localdev's TestJSClient, needs the npm packages of its lockfile.
JS_CLIENT := functions/gateway/envelope/js

test: ## run all tests with the race detector, after npm ci for the JavaScript client, then the store tests with the release tags (set JT_TEST_*_URL for the real-service runs)
	@if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then \
		echo "npm ci in $(JS_CLIENT)"; \
		(cd $(JS_CLIENT) && npm ci --prefer-offline --ignore-scripts --no-audit --no-fund) || exit 1; \
	else \
		echo "node or npm is not on PATH: skipping npm ci in $(JS_CLIENT); the JavaScript client's Node test (TestJSClient) will be skipped"; \
	fi
	$(GO) test -race -count=1 ./...
	$(GO) test -race -count=1 -tags '$(RELEASE_TAGS)' ./shared/store/

test-short: ## run the tests without the race detector
	$(GO) test -count=1 ./...

bench: ## run the Go benchmarks and the loopback load test, and update docs/benchmarks.md
	bash localdev/bench/run.sh

build: ## build one release binary per function (PostgreSQL only), and localdev (with SQLite), into $(BIN)/
	@mkdir -p $(BIN)
	@for f in $(FUNCTIONS); do \
		echo "build $(BIN)/$$f"; \
		CGO_ENABLED=0 $(GO) build $(RELEASE_FLAGS) -o $(BIN)/$$f ./functions/$$f/cmd/$$f || exit 1; \
	done
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/localdev ./localdev/cmd/localdev

cross: ## build every function for linux/amd64, linux/arm64 and linux/loong64 (信创) with cgo disabled, into $(BIN)/<os>_<arch>/
	@for arch in amd64 arm64 loong64; do \
		for f in $(FUNCTIONS); do \
			echo "build $(BIN)/linux_$$arch/$$f"; \
			CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build $(RELEASE_FLAGS) \
				-o $(BIN)/linux_$$arch/$$f ./functions/$$f/cmd/$$f || exit 1; \
		done; \
	done

# The Lambda package adds lambda.norpc, which leaves out aws-lambda-go's RPC
# mode for the retired go1.x runtime; provided.al2023 never uses it.
package-lambda: ## zip each function as bootstrap for the provided.al2023 runtime into dist/lambda/<name>.zip
	@mkdir -p dist/lambda
	@for f in $(FUNCTIONS); do \
		tmp=$$(mktemp -d); \
		CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -tags '$(RELEASE_TAGS) lambda.norpc' -ldflags '$(LDFLAGS)' \
			-o $$tmp/bootstrap ./functions/$$f/cmd/$$f || exit 1; \
		(cd $$tmp && zip -q -X $(CURDIR)/dist/lambda/$$f.zip bootstrap) || exit 1; \
		rm -rf $$tmp; echo "package dist/lambda/$$f.zip"; \
	done

package-scf: ## zip each function as main for Tencent SCF's Go runtime into dist/scf/<name>.zip
	@mkdir -p dist/scf
	@for f in $(FUNCTIONS); do \
		tmp=$$(mktemp -d); \
		CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build $(RELEASE_FLAGS) \
			-o $$tmp/main ./functions/$$f/cmd/$$f || exit 1; \
		(cd $$tmp && zip -q -X $(CURDIR)/dist/scf/$$f.zip main) || exit 1; \
		rm -rf $$tmp; echo "package dist/scf/$$f.zip"; \
	done

lint: ## go vet and golangci-lint, also on the files that only release builds compile
	$(GO) vet ./...
	$(GO) vet -tags '$(RELEASE_TAGS)' ./shared/store/...
	$(GOLANGCI) run ./...
	$(GOLANGCI) run --build-tags '$(RELEASE_TAGS)' ./shared/store/...

fuzz: ## run each fuzz target for FUZZTIME (default 10s)
	bash localdev/bench/fuzz.sh $(or $(FUZZTIME),10s)

docs: ## regenerate docs/errors.md and docs/api/ from the code
	JT_UPDATE_DOCS=1 $(GO) test -count=1 -run 'TestDocs' ./localdev/

clean: ## remove build output and local data
	rm -rf $(BIN) dist .data
