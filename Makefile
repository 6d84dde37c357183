# RAZAR. `make demo` runs the escalation ladder on the example home;
# `make test` runs the whole suite. Both need only Go: the rest is installed here.
SHELL := /bin/bash
GO    ?= go
BIN   := bin
GOBIN := $(shell $(GO) env GOPATH)/bin
NATS  := $(GOBIN)/nats
export PATH := $(GOBIN):$(PATH)

.PHONY: all build test test-short demo bench lint tools fuzz clean

all: build

# The commit, for razar --version and razar_build_info, where the Go build
# records none of its own (GOFLAGS=-buildvcs=false, a tarball).
COMMIT := $(shell git rev-parse HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)

build:
	$(GO) build -ldflags "-X main.commit=$(COMMIT)" -o $(BIN)/razar ./cmd/razar

# The nats CLI (interop tests), promtool (metrics checks) and Alertmanager
# (alert delivery tests), the last two from Debian's packages.
tools: $(NATS) promtool alertmanager node-exporter shelltools chromium

$(NATS):
	$(GO) install github.com/nats-io/natscli/nats@v0.5.0

.PHONY: promtool alertmanager node-exporter shelltools chromium
# chromium: the status page is loaded in a headless browser by its test.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium (Debian package)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; fi; }
# shelltools: docs/RUNBOOK.md's commands, run by its test, use curl and jq.
shelltools:
	@command -v jq >/dev/null 2>&1 && command -v curl >/dev/null 2>&1 || { \
	  echo "installing jq and curl (Debian packages)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends jq curl >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends jq curl >/dev/null; fi; }
# node-exporter: the memory tests scrape monitoring/boot_metrics.prom through
# the real textfile collector.
node-exporter:
	@command -v prometheus-node-exporter >/dev/null 2>&1 || { \
	  echo "installing node_exporter (Debian package prometheus-node-exporter)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-node-exporter >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-node-exporter >/dev/null; fi; }
alertmanager:
	@command -v prometheus-alertmanager >/dev/null 2>&1 || { \
	  echo "installing Alertmanager (Debian package prometheus-alertmanager)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null; fi; }

promtool:
	@command -v promtool >/dev/null 2>&1 || { \
	  echo "installing promtool (Debian package prometheus)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; fi; }

test: tools
	$(GO) vet ./...
	$(GO) test -race -timeout 12m ./...

test-short:
	$(GO) test -short ./...

demo: build
	./scripts/demo.sh

# The ledger against the bus's own limits (bench/results.json, docs/PERFORMANCE.md),
# then the micro-benchmarks, each as a ratio against its baseline.
bench:
	$(GO) run ./bench -out bench/results.json
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./... 2>&1 | ./scripts/benchratio.sh

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Every decoder and parser, briefly; FUZZTIME=5m for a longer hunt.
FUZZTIME ?= 15s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeEscalation$$' -fuzztime $(FUZZTIME) ./bus
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeResult$$' -fuzztime $(FUZZTIME) ./bus
	$(GO) test -run '^$$' -fuzz '^FuzzClip$$' -fuzztime $(FUZZTIME) ./bus
	$(GO) test -run '^$$' -fuzz '^FuzzParseBootConfig$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzParseRoster$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzParseEnvFile$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzParseExecReply$$' -fuzztime $(FUZZTIME) ./agents
	$(GO) test -run '^$$' -fuzz '^FuzzParseChatReply$$' -fuzztime $(FUZZTIME) ./agents
	$(GO) test -run '^$$' -fuzz '^FuzzParseHTTPReply$$' -fuzztime $(FUZZTIME) ./agents
	$(GO) test -run '^$$' -fuzz '^FuzzParseManifest$$' -fuzztime $(FUZZTIME) ./agents
	$(GO) test -run '^$$' -fuzz '^FuzzCheck$$' -fuzztime $(FUZZTIME) ./patch
	$(GO) test -run '^$$' -fuzz '^FuzzComponentProtections$$' -fuzztime $(FUZZTIME) ./patch

clean:
	rm -rf $(BIN)
