# akciz — make targets. `make test` is what CI runs (through .ci/run, which first installs the Debian
# packages the tests need); it installs nothing itself.
GO        ?= go
FUZZTIME  ?= 3s
BIN       := bin/akciz
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build demo test unit fuzz-short fuzz lint bench bench-go bench-modbus clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/akciz

## demo: the main job: akciz demo — simulator, agent and server with its console in one process; data in ./akciz-demo (docs/demo.md).
demo: build
	tools/demo.sh

## test: everything CI runs: lint, unit and conformance tests with the race detector, a short fuzz of every target.
test: lint unit fuzz-short

unit:
	$(GO) test -race -count=1 -timeout 15m ./...

## fuzz-short: every fuzz target for $(FUZZTIME) (CI); fuzz: the same for longer.
fuzz-short:
	FUZZTIME=$(FUZZTIME) tools/fuzz.sh

fuzz:
	FUZZTIME=$${FUZZTIME:-2m} tools/fuzz.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## bench: every benchmark; the Go micro-benchmarks, then each side-by-side comparison with its reference.
bench: bench-go bench-modbus bench-imports bench-ingest bench-agent

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## bench-modbus: akciz's Modbus client and server against libmodbus on loopback, BENCH_SECONDS (5) per figure.
bench-modbus:
	GO=$(GO) BENCH_SECONDS=$${BENCH_SECONDS:-5} tools/bench-modbus.sh

clean:
	rm -rf bin

## bench-imports: SEPI (1 million barcodes) and a 0.5 GB energy table, each checked in a child process: time and peak memory.
.PHONY: bench-imports
bench-imports:
	GO=$(GO) tools/bench-imports.sh

## bench-ingest: akciz server's intake over loopback HTTPS with full verification, beside the store's raw bulk insert (SQLite, PostgreSQL).
.PHONY: bench-ingest
bench-ingest:
	GO=$(GO) tools/bench-ingest.sh

## test-zero-loss: the agent as a child process SIGKILLed 20 times, the server unreachable for stretches; the last line is the tally (docs/agent-operations.md).
.PHONY: test-zero-loss
test-zero-loss:
	@rep=$$(mktemp); AKCIZ_ZERO_LOSS_KILLS=$${AKCIZ_ZERO_LOSS_KILLS:-20} AKCIZ_ZERO_LOSS_SPEED=$${AKCIZ_ZERO_LOSS_SPEED:-120} \
		AKCIZ_ZERO_LOSS_REPORT=$$rep \
		$(GO) test -count=1 -timeout 10m -run '^TestZeroLoss$$' -v ./cmd/akciz/; s=$$?; \
		cat $$rep; rm -f $$rep; exit $$s

## bench-agent: akciz agent reading 1,000 tags a second from the simulator for BENCH_AGENT_SECONDS (60): peak RSS, CPU, requests per scan beside the minimum.
.PHONY: bench-agent
bench-agent:
	GO=$(GO) BENCH_AGENT_SECONDS=$${BENCH_AGENT_SECONDS:-60} tools/bench-agent.sh
