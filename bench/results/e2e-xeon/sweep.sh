#!/bin/bash
# Device sweep 2: the final server and load generator on 2 pinned cores.
cd "$(dirname "$0")"
CPUS=${CPUS:-2,3}
ulimit -n 1048576 2>/dev/null || ulimit -n 65536
lscpu | grep -E "Model name"
point() { # label bin lgbin subs rate dur [loadgen args --] serveargs...
  local label=$1 bin=$2 lg=$3 subs=$4 rate=$5 dur=$6; shift 6
  local lgargs=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do lgargs+=("$1"); shift; done
  [ "$1" = "--" ] && shift
  local port=$((18000 + RANDOM % 1000))
  taskset -c $CPUS ./$bin serve --addr 127.0.0.1:$port --admin-addr "" --log-level error "$@" & local pid=$!
  sleep 0.5
  echo "== $label subs=$subs rate=$rate ${lgargs[*]} | $*"
  taskset -c $CPUS ./$lg loadgen --url http://127.0.0.1:$port --metrics-url off --subscribers $subs --rate $rate --duration $dur --server-pid $pid --quiet --connect-rate 5000 "${lgargs[@]}" 2>&1 | grep -E "latency|published|server  |client  |delivered" | sed -E 's/ +/ /g' | cut -c1-170
  kill $pid; wait $pid 2>/dev/null
}
