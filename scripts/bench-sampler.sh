#!/usr/bin/env bash
# Measures the sampler on a busy host, as docs/bench.md reports it:
#   1. `go test -bench BenchmarkSamplerTick`: one steady-state tick with 10,000 TCP sockets
#      held by 201 processes (scripts/sockload), and the first tick (one full /proc walk);
#   2. the CPU that `wiretop --headless --no-capture --interval 1s` uses over DURATION seconds
#      with the same sockets open, from utime+stime in /proc/PID/stat: as root twice, with the
#      BPF socket iterator (the default) and with --no-bpf (sock_diag);
#   3. `ss -tanp` and `ss -tan` on the same sockets, RUNS runs each, for comparison.
# Needs no root (loopback only). Usage: scripts/bench-sampler.sh [DURATION] [RUNS] [WARMUP]
# WARMUP (default 3 s) is how long wiretop runs before the CPU is measured: past the first
# tick and its /proc walk. An inode that no walk resolves (a kernel-owned socket) causes one
# more walk at 30 s and 90 s, then ever more rarely: a WARMUP of 100 measures the steady state.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-60}
RUNS=${2:-20}
WARMUP=${3:-3}
tmp=$(mktemp -d)
trap 'exec 3>&- 2>/dev/null || true; kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

echo "== machine: $(nproc) cores, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== go benchmarks (BenchmarkSamplerTick, BenchmarkSamplerFirstTick, BenchmarkSockDiagDump, BenchmarkTCPIterDump)"
go test -run '^$' -bench 'BenchmarkSamplerTick$|BenchmarkSamplerFirstTick$|BenchmarkSockDiagDump$|BenchmarkTCPIterDump$' -benchtime 30x -benchmem ./sampler | grep -E '^Benchmark'

go build -o "$tmp/wiretop" .
go build -o "$tmp/sockload" ./scripts/sockload
mkfifo "$tmp/hold"
"$tmp/sockload" -procs 200 -conns 25 <"$tmp/hold" >"$tmp/sockload.out" &
exec 3>"$tmp/hold"
for _ in $(seq 100); do grep -q ready "$tmp/sockload.out" 2>/dev/null && break; sleep 0.2; done
echo "== sockets: $(ss -Htan | wc -l) TCP in the table"

cpu_run() { # cpu_run LABEL FLAGS...: the steady-state CPU of wiretop with those flags
  local label=$1; shift
  "$tmp/wiretop" --headless --no-capture --interval 1s "$@" >"$tmp/out.jsonl" &
  local wpid=$!
  sleep "$WARMUP" # past the first tick and its /proc walk
  local t0 s0 t1 s1
  t0=$(awk '{print $14+$15}' "/proc/$wpid/stat"); s0=$(date +%s.%N)
  sleep "$DURATION"
  t1=$(awk '{print $14+$15}' "/proc/$wpid/stat"); s1=$(date +%s.%N)
  kill -INT "$wpid"; wait "$wpid" || true
  awk -v a="$t0" -v b="$t1" -v s0="$s0" -v s1="$s1" -v hz="$(getconf CLK_TCK)" -v warm="$WARMUP" -v label="$label" \
    -v src="$(head -1 "$tmp/out.jsonl" | jq -r .status.socket_source)" 'BEGIN {
    cpu=(b-a)/hz; wall=s1-s0; printf "== wiretop --headless --no-capture --interval 1s%s (sockets: %s): %.2f s CPU in %.1f s = %.2f%% of one core (after %s s)\n", label, src, cpu, wall, 100*cpu/wall, warm }'
  echo "   (samples written: $(grep -c '"type":"sample"' "$tmp/out.jsonl"))"
}
cpu_run ""
[ "$(id -u)" = 0 ] && cpu_run " --no-bpf" --no-bpf

for cmd in "ss -tanp" "ss -tan"; do
  s0=$(date +%s%N)
  for _ in $(seq "$RUNS"); do $cmd >/dev/null; done
  s1=$(date +%s%N)
  echo "== $cmd: $(( (s1 - s0) / RUNS / 1000000 )) ms per run (mean of $RUNS)"
done
