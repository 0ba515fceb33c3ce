#!/bin/bash
# Issue 13's two-core figures on another machine: the same test binary on two
# pinned cores, so that a platform whose idle cores wake fast (bare metal, a
# larger VM) can be told apart from this project's 2-core VM (docs/ring.md,
# eighth pass). Build the binary where Go is, carry it over, run this there:
#
#	CGO_ENABLED=0 go test -c -o bench.test ./bench
#	CPUS=2,3 BIN=./bench.test bench/results/ring/two-cores.sh | tee two-cores.txt
#
# About three minutes. CPUS: two CPUs of one socket; BIN: the binary; OLD: a
# second binary whose probes run alternately with BIN's (optional; built from
# c153aac or later, which read $RINGCAST_BENCH_SCENARIOS: an older one runs its
# whole matrix).
set -u
CPUS=${CPUS:-0,1}
BIN=${BIN:-./bench.test}
OLD=${OLD:-}
P="taskset -c $CPUS"
echo "== $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), cpuidle $(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null), CPUs $CPUS"

# Ten 40 ms runs at a fixed rate, 256 readers: how many lose more than the
# sustained search allows (0.1%).
probe() { # binary strategy rate
	local n=$(( ${3%k} * 40 ))
	RINGCAST_BENCH_SCENARIOS="strategy=$2/readers=256/batch=1/payload=64/consumers=fast/rate=$3" \
		$P "$1" -test.cpu 2 -test.run '^$' -test.bench Fanout -test.benchtime "${n}x" -test.count 10 2>&1 |
		awk -v what="$3 $2 $1" '/^Benchmark/ { for (i = 1; i <= NF; i++) if ($i == "ok-loss-frac") l = $(i-1); if (l > 0.001) f++; n++ }
			END { printf "%s: %d of %d lost more than 0.1%%\n", what, f, n }'
}
echo "== fixed-rate probes"
for rate in 800k 1000k; do
	for pass in 1 2 3; do
		for bin in $BIN $OLD; do probe "$bin" ring-adaptive $rate; done
		probe "$BIN" ring-yield $rate
	done
done

echo "== sustained, cost (with the idle wake-up), flat out"
$P "$BIN" -test.cpu 2 -test.run '^$' -test.benchtime 1x -test.count 5 \
	-test.bench 'Sustained/^strategy=(ring-adaptive|ring-yield|chan-drop-oldest|disruptor)$/^readers=(1|16|256)$/^batch=1$/' 2>&1 | grep '^Benchmark'
$P "$BIN" -test.cpu 2 -test.run '^$' -test.benchtime 1x -test.count 7 \
	-test.bench 'Cost/^strategy=(ring-adaptive|chan-drop-oldest)$/^readers=16$' 2>&1 | grep '^Benchmark'
$P "$BIN" -test.cpu 2 -test.run '^$' -test.benchtime 2000000x -test.count 5 \
	-test.bench 'Fanout/^strategy=(ring-adaptive|disruptor)$/^readers=1$/^batch=1$/^payload=64$/^consumers=fast$/^rate=max$' 2>&1 | grep '^Benchmark'
