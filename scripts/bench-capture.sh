#!/usr/bin/env bash
# bench-capture.sh times wiretop's replay of 1-million-packet captures against tcpdump's
# read-and-write of the same file (and tshark's conversation statistics once), and runs the
# capture package's Go benchmarks. docs/bench-capture.md holds the figures and how to read
# them.
#
# Usage: scripts/bench-capture.sh [RUNS]   (default 5 runs per command; medians are printed)
#
# Two synthetic captures (capture/internal/pcapgen), Ethernet, TCP and UDP over IPv4 and
# IPv6, data packets cut at snaplen 256 as wiretop captures them, 100,000 packets/s of
# capture clock (10 s):
#   10k    benchreplay gen -n 1000000 -flows 10000
#   flood  benchreplay gen -n 1000000 -flows 50000 -flood 0.3: 50,000 flows, and 30% of the
#          packets a spoofed SYN flood to one port (300,000 one-packet flows)
# For each, three commands, run in turn RUNS times (interleaved, so that the machine's load
# falls on all of them alike):
#   wiretop   wiretop -r FILE --headless --speed max (JSON Lines to /dev/null)
#   capture   capture/internal/benchreplay FILE (capture.Open + Run and a consumer summing
#             the batches per flow: the capture package alone)
#   tcpdump   tcpdump -r FILE -w /dev/null
# and prints the median wall time and CPU time (user+sys, /usr/bin/time) of each, its peak
# RSS, and the ratios to tcpdump's medians of the same run (the target: at most 2x, wall and
# CPU, for wiretop on the flood file).
#
# Needs: go, tcpdump, GNU time (/usr/bin/time); tshark for its one run (skipped without it).
set -euo pipefail

RUNS=${1:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/bench-capture.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

for t in go tcpdump /usr/bin/time; do
	command -v "$t" >/dev/null || { echo "bench-capture: $t not found (scripts/deps.sh)" >&2; exit 1; }
done

cd "$ROOT"
go build -o "$WORK/benchreplay" ./capture/internal/benchreplay
go build -o "$WORK/wiretop" .
echo "== $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg); $RUNS runs per command"

# timed NAME CMD...: one run; appends "NAME wall cpu rss_kB" to $WORK/times
timed() {
	local name=$1
	shift
	/usr/bin/time -o "$WORK/t" -f "%e %U %S %M" "$@" >/dev/null 2>"$WORK/err" ||
		{ echo "bench-capture: $name failed:" >&2; cat "$WORK/err" >&2; exit 1; }
	awk -v n="$name" '{ printf "%s %s %.2f %s\n", n, $1, $2 + $3, $4 }' "$WORK/t" >>"$WORK/times"
}
med() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

bench() { # LABEL GEN-ARGS...
	local label=$1 file=$WORK/$1.pcap
	shift
	"$WORK/benchreplay" gen -n 1000000 "$@" -o "$file"
	echo
	echo "-- $label: benchreplay gen -n 1000000 $*: $(du -h "$file" | cut -f1), $(tcpdump --count -r "$file" 2>/dev/null)"
	echo "   capture package alone: $("$WORK/benchreplay" "$file")"
	: >"$WORK/times"
	# a warm-up run each: the file in the page cache
	"$WORK/wiretop" -r "$file" --headless --speed max >/dev/null
	tcpdump -r "$file" -w /dev/null 2>/dev/null
	for _ in $(seq "$RUNS"); do
		timed wiretop "$WORK/wiretop" -r "$file" --headless --speed max
		timed capture "$WORK/benchreplay" "$file"
		timed tcpdump tcpdump -r "$file" -w /dev/null
	done
	local tdw tdc
	tdw=$(awk '$1 == "tcpdump" { print $2 }' "$WORK/times" | med)
	tdc=$(awk '$1 == "tcpdump" { print $3 }' "$WORK/times" | med)
	for name in wiretop capture tcpdump; do
		local w c r
		w=$(awk -v n="$name" '$1 == n { print $2 }' "$WORK/times" | med)
		c=$(awk -v n="$name" '$1 == n { print $3 }' "$WORK/times" | med)
		r=$(awk -v n="$name" '$1 == n { print $4 }' "$WORK/times" | sort -g | tail -1)
		awk -v l="$label" -v n="$name" -v w="$w" -v c="$c" -v r="$r" -v tdw="$tdw" -v tdc="$tdc" 'BEGIN {
			printf "%-6s %-8s wall %.3f s (%.2fx tcpdump)  cpu %.3f s (%.2fx tcpdump)  peak RSS %.0f MB (max)\n", l, n, w, w / tdw, c, c / tdc, r / 1024 }'
	done
	if [ "$label" = 10k ] && command -v tshark >/dev/null; then
		timed tshark tshark -r "$file" -q -z conv,tcp
		awk '$1 == "tshark" { printf "%-6s %-8s wall %.3f s  cpu %.3f s (one run)\n", "10k", "tshark", $2, $3 }' "$WORK/times"
	fi
	rm -f "$file"
}
bench 10k -flows 10000
bench flood -flows 50000 -flood 0.3

echo
echo "Go benchmarks (go test -run '^\$' -bench 'PacketPath|Filter\$|Flood|Replay1M' -benchmem ./capture):"
go test -run '^$' -bench 'PacketPath|Filter$|Flood|Replay1M' -benchmem -benchtime 2s ./capture | grep -E '^(Benchmark|ok)'
