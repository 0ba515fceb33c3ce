# ringcast — make targets. Everything here needs only Go (the browser test also
# wants Debian's chromium; .ci/run installs it).
GO        ?= go
ADDR      ?= :8080
BENCH_COUNT ?= 5
SCENARIO  ?= fanout-16

.PHONY: run test test-short bench bench-e2e profile fmt vet build cluster

## run: start the SSE server on an embedded default (http://localhost:8080)
run:
	$(GO) run ./cmd/ringcast serve --addr $(ADDR)

## cluster: three nodes on localhost sharing one NATS JetStream log (docs/cluster.md):
## :8080 with an embedded NATS server on 127.0.0.1:4222, then :8081 and :8082 joining it; Ctrl-C stops all
cluster: build
	@bash -c 'trap "kill 0" EXIT; \
	./bin/ringcast serve --nats-embedded --addr :8080 --admin-addr "" & \
	for i in $$(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null && break; sleep 0.1; done; \
	./bin/ringcast serve --nats nats://127.0.0.1:4222 --addr :8081 --admin-addr "" & \
	./bin/ringcast serve --nats nats://127.0.0.1:4222 --addr :8082 --admin-addr "" & \
	wait'

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

## bench-e2e: drive ringcast serve (ring and chan engines, and the ring through NATS JetStream on one and two nodes) with the load generator; writes docs/e2e.md,
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
