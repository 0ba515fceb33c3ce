# ringcast — make targets. Everything here needs only Go (the browser test also
# wants Debian's chromium; .ci/run installs it).
GO        ?= go
ADDR      ?= :8080
BENCH_COUNT ?= 5
SCENARIO  ?= fanout-16

.PHONY: run test test-short bench bench-e2e profile fmt vet build

## run: start the SSE server on an embedded default (http://localhost:8080)
run:
	$(GO) run ./cmd/ringcast serve --addr $(ADDR)

## build: build ringcast (serve, loadgen, bench, e2e) and ringcast-report (the
## charts, which ringcast runs from beside itself) into ./bin
build:
	$(GO) build -o bin/ ./cmd/ringcast ./cmd/ringcast-report

## test: vet, then every test under the race detector
test: vet
	$(GO) test -race -count=1 -timeout 8m ./...

## bench: compare the fan-out strategies under load; writes docs/benchmarks.md
## (its charts by go run ./cmd/ringcast-report, which ringcast bench run invokes)
bench:
	BENCH_COUNT=$(BENCH_COUNT) $(GO) run ./cmd/ringcast bench run

## bench-e2e: drive ringcast serve (ring and chan engines) with the load generator; writes docs/e2e.md,
## docs/e2e/report.json and the charts drawn from it (by ringcast-report, which ringcast e2e invokes)
bench-e2e:
	$(GO) run ./cmd/ringcast e2e

## profile: run one bench scenario under CPU and heap profiling and print the top functions
profile:
	$(GO) run ./cmd/ringcast bench profile --scenario $(SCENARIO)

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet ./...
