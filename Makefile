# RAZAR. `make demo` runs the escalation ladder on the example home;
# `make test` runs the whole suite. Both need only Go: the rest is installed here.
SHELL := /bin/bash
GO    ?= go
BIN   := bin
GOBIN := $(shell $(GO) env GOPATH)/bin
NATS  := $(GOBIN)/nats
export PATH := $(GOBIN):$(PATH)

.PHONY: all build test test-short demo standin bench lint tools fuzz clean chaos

all: build

# The commit, for razar --version and razar_build_info, where the Go build
# records none of its own (GOFLAGS=-buildvcs=false, a tarball).
COMMIT := $(shell git rev-parse HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)

build:
	$(GO) build -ldflags "-X main.commit=$(COMMIT)" -o $(BIN)/razar ./cmd/razar

# man: a page per command, dist/man/razar*.1, from the CLI's own help
# (the hidden `razar man --dir DIR`).
.PHONY: man
man: build
	mkdir -p dist/man
	$(BIN)/razar man --dir dist/man

# The nats CLI (interop tests) and, from Debian's packages, what the other
# tests drive: promtool and prometheus, Alertmanager, node_exporter,
# chromium, jq and curl; systemd-analyze for dist/razar.service.
tools: $(NATS) promtool alertmanager node-exporter shelltools chromium systemd

$(NATS):
	$(GO) install github.com/nats-io/natscli/nats@v0.5.0

.PHONY: promtool alertmanager node-exporter shelltools chromium systemd
# debian installs the Debian packages $(2), as root or with sudo, unless
# every command in $(1) is already there.
define debian
@missing=; for c in $(1); do command -v $$c >/dev/null 2>&1 || missing=1; done; \
if [ -n "$$missing" ]; then \
  echo "installing $(2) (Debian packages)"; \
  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
  $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(2) >/dev/null; \
fi
endef

# chromium: the status page is loaded in a headless browser by its test.
chromium:
	$(call debian,chromium,chromium)
# shelltools: docs/RUNBOOK.md's commands, run by its test, use curl and jq.
shelltools:
	$(call debian,jq curl,jq curl)
# node-exporter: the memory tests scrape monitoring/boot_metrics.prom through
# the real textfile collector.
node-exporter:
	$(call debian,prometheus-node-exporter,prometheus-node-exporter)
alertmanager:
	$(call debian,prometheus-alertmanager,prometheus-alertmanager)
promtool:
	$(call debian,promtool,prometheus)
# systemd: `systemd-analyze verify` checks dist/razar.service (docs/SYSTEMD.md).
systemd:
	$(call debian,systemd-analyze,systemd)

test: tools
	$(GO) vet ./...
	$(GO) test -race -timeout 12m ./...

# The chaos suite in full: more kill moments, 40 incidents at once
# (docs/SCALE.md, Chaos suite). `make test` runs its bounded slice.
chaos: tools
	RAZAR_CHAOS=full $(GO) test -race -count=1 -timeout 30m -v -run . ./chaos

test-short:
	$(GO) test -short ./...

# The demo's remote rungs are openai rungs served by the stand-in model
# (internal/standin, not a model) on a loopback port.
demo: build standin
	./scripts/demo.sh

standin:
	$(GO) build -o $(BIN)/razar-standin ./cmd/razar-standin

# The ledger against the bus's own limits (bench/results.json, docs/PERFORMANCE.md),
# on a 3-node cluster against the embedded server (bench/scale.json, docs/SCALE.md),
# the failure corpus through the ladder with the stand-in model (bench/corpus.json,
# examples/corpus/README.md), then the micro-benchmarks, each as a ratio against its baseline.
bench:
	$(GO) run ./bench -out bench/results.json
	$(GO) run ./bench -corpus bench/corpus.json
	$(GO) run ./bench -scale bench/scale.json
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
	$(GO) test -run '^$$' -fuzz '^FuzzParseBootConfig$$' -fuzztime $(FUZZTIME) ./config
	$(GO) test -run '^$$' -fuzz '^FuzzParseRoster$$' -fuzztime $(FUZZTIME) ./config
	$(GO) test -run '^$$' -fuzz '^FuzzParseEnvFile$$' -fuzztime $(FUZZTIME) ./config
	$(GO) test -run '^$$' -fuzz '^FuzzParseExecReply$$' -fuzztime $(FUZZTIME) ./agents
	$(GO) test -run '^$$' -fuzz '^FuzzParseChatReply$$' -fuzztime $(FUZZTIME) ./agents
	$(GO) test -run '^$$' -fuzz '^FuzzParseHTTPReply$$' -fuzztime $(FUZZTIME) ./agents
	$(GO) test -run '^$$' -fuzz '^FuzzParseManifest$$' -fuzztime $(FUZZTIME) ./agents
	$(GO) test -run '^$$' -fuzz '^FuzzCheck$$' -fuzztime $(FUZZTIME) ./patch
	$(GO) test -run '^$$' -fuzz '^FuzzPlace$$' -fuzztime $(FUZZTIME) ./patch
	$(GO) test -run '^$$' -fuzz '^FuzzPlaceOracle$$' -fuzztime $(FUZZTIME) ./patch
	$(GO) test -run '^$$' -fuzz '^FuzzComponentProtections$$' -fuzztime $(FUZZTIME) ./patch

clean:
	rm -rf $(BIN)
