#!/usr/bin/env bash
# bench-capture-live.sh measures the CPU that live capture costs: wiretop
# --headless -i lo while iperf3 floods loopback with 64-byte UDP datagrams
# for SECONDS, against tcpdump -i lo -Q in -s 256 -w /dev/null (the same
# direction and snaplen) under the same flood.
# Reports each one's CPU (utime+stime from /proc/PID/stat) as a share of
# one core, the packets its capture received and the kernel's drops.
# docs/bench-capture.md holds the figures.
#
# Usage (root, for capture): scripts/bench-capture-live.sh [SECONDS] [RUNS]
# Traffic stays on 127.0.0.1 and stops after SECONDS.
set -euo pipefail
SECONDS_RUN=${1:-6}
RUNS=${2:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/bench-live.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT=45201
for t in go iperf3 tcpdump jq; do
	command -v "$t" >/dev/null || { echo "bench-capture-live: $t not found (scripts/deps.sh)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench-capture-live: needs root (live capture)" >&2; exit 1; }
cd "$ROOT"
go build -o "$WORK/wiretop" .
hz=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }

# flood PID: runs the iperf3 flood while PID captures; prints "TICKS SECONDS"
flood() {
	iperf3 -s -1 -p "$PORT" -B 127.0.0.1 >/dev/null 2>&1 &
	local srv=$! t0 t1 s0 s1
	sleep 1.5 # the capture is open and the server listens
	t0=$(cpu "$1"); s0=$(date +%s.%N)
	iperf3 -c 127.0.0.1 -p "$PORT" -u -b 0 -l 64 -t "$SECONDS_RUN" >"$WORK/iperf.out" 2>&1 || true
	t1=$(cpu "$1"); s1=$(date +%s.%N)
	wait "$srv" 2>/dev/null || true
	echo "$((t1 - t0)) $(awk -v a="$s0" -v b="$s1" 'BEGIN { print b - a }')"
}
share() { awk -v t="$1" -v s="$2" -v hz="$hz" 'BEGIN { printf "%.1f%%", 100 * t / hz / s }'; }

echo "== $(nproc) cores, $(uname -r); iperf3 -u -b 0 -l 64 on 127.0.0.1 for $SECONDS_RUN s, $RUNS runs each"
for run in $(seq "$RUNS"); do
	"$WORK/wiretop" --headless -i lo --interval 1s >"$WORK/out.jsonl" 2>"$WORK/err" &
	w=$!
	read -r ticks secs < <(flood "$w")
	kill -INT "$w"; wait "$w" || true
	stats=$(tail -1 "$WORK/out.jsonl" | jq -r '.capture | "\(.received) received, \(.dropped) dropped"')
	echo "wiretop run $run: $(share "$ticks" "$secs") of one core; $stats"

	tcpdump -i lo -Q in -s 256 -w /dev/null 2>"$WORK/td.err" &
	td=$!
	read -r ticks secs < <(flood "$td")
	kill -INT "$td"; wait "$td" || true
	echo "tcpdump run $run: $(share "$ticks" "$secs") of one core; $(grep -E 'received by filter|dropped by kernel' "$WORK/td.err" | paste -sd, -)"
done
