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

## demo: the main job for now: the fuel-depot simulator, read over Modbus TCP for 20 s (tools/demo.sh).
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
bench: bench-go bench-modbus

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## bench-modbus: akciz's Modbus client and server against libmodbus on loopback, BENCH_SECONDS (5) per figure.
bench-modbus:
	GO=$(GO) BENCH_SECONDS=$${BENCH_SECONDS:-5} tools/bench-modbus.sh

clean:
	rm -rf bin
