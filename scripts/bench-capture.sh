#!/usr/bin/env bash
# bench-capture.sh times wiretop's replay accounting of a 1-million-packet
# capture against tshark's conversation statistics and tcpdump's read-and-
# write of the same file, and runs the capture package's Go benchmarks.
# docs/bench-capture.md holds the figures and how to read them.
#
# Usage: scripts/bench-capture.sh [RUNS]   (default 5 runs per command)
#
# The capture is synthetic (capture/internal/pcapgen): Ethernet, TCP and UDP
# over IPv4 and IPv6, 10,000 flows, data packets cut at snaplen 256 as
# wiretop captures them, 100,000 packets/s of capture clock (10 s).
#
# Two wiretop figures: the whole program, `wiretop -r FILE --headless --speed
# max` (JSON Lines to /dev/null), and the capture package alone,
# capture/internal/benchreplay (Open + Run at speed max and a consumer
# summing the batches per flow).
#
# Needs: go, tcpdump, tshark; hyperfine if installed (apt-get install
# hyperfine), otherwise a timing loop.
set -euo pipefail

RUNS=${1:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/bench-capture.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
FILE=$WORK/1m.pcap

for t in go tcpdump tshark; do
	command -v "$t" >/dev/null || { echo "bench-capture: $t not found (scripts/deps.sh)" >&2; exit 1; }
done

cd "$ROOT"
go build -o "$WORK/benchreplay" ./capture/internal/benchreplay
go build -o "$WORK/wiretop" .
"$WORK/benchreplay" gen -n 1000000 -flows 10000 -o "$FILE"
echo "capture: $FILE, $(du -h "$FILE" | cut -f1), $(tcpdump --count -r "$FILE" 2>/dev/null)"
echo "capture package alone: $("$WORK/benchreplay" "$FILE")"
echo

WT="$WORK/wiretop -r $FILE --headless --speed max"
CP="$WORK/benchreplay $FILE"
TD="tcpdump -r $FILE -w /dev/null"
TS="tshark -r $FILE -q -z conv,tcp"
if command -v hyperfine >/dev/null; then
	# tshark takes tens of seconds a run: fewer runs for it.
	hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$WORK/fast.json" \
		-n wiretop "$WT" -n capture "$CP" -n tcpdump "$TD" --output=null >&2
	hyperfine -N --runs 2 --export-json "$WORK/tshark.json" -n tshark "$TS" --output=null >&2
	mean() { jq -r ".results[] | select(.command==\"$2\") | .mean" "$1"; }
	wt=$(mean "$WORK/fast.json" wiretop)
	cp=$(mean "$WORK/fast.json" capture)
	td=$(mean "$WORK/fast.json" tcpdump)
	ts=$(mean "$WORK/tshark.json" tshark)
else
	timeit() { # runs cmd...: mean seconds
		local n=$1 s e; shift
		s=$(date +%s.%N)
		for _ in $(seq "$n"); do "$@" >/dev/null 2>&1; done
		e=$(date +%s.%N)
		awk -v s="$s" -v e="$e" -v n="$n" 'BEGIN { print (e - s) / n }'
	}
	# shellcheck disable=SC2086
	wt=$(timeit "$RUNS" $WT)
	# shellcheck disable=SC2086
	cp=$(timeit "$RUNS" $CP)
	# shellcheck disable=SC2086
	td=$(timeit "$RUNS" $TD)
	# shellcheck disable=SC2086
	ts=$(timeit 2 $TS)
fi
printf '\n%-50s %8.3f s\n' "wiretop -r FILE --headless --speed max" "$wt"
printf '%-50s %8.3f s\n' "capture package alone (benchreplay)" "$cp"
printf '%-50s %8.3f s\n' "tcpdump -r FILE -w /dev/null" "$td"
printf '%-50s %8.3f s\n' "tshark -r FILE -q -z conv,tcp" "$ts"
awk -v wt="$wt" -v cp="$cp" -v td="$td" -v ts="$ts" 'BEGIN {
	printf "wiretop: %.1fx faster than tshark (target >= 10x), %.2fx tcpdump'"'"'s time (target <= 2x)\n", ts/wt, wt/td
	printf "capture alone: %.1fx faster than tshark, %.2fx tcpdump'"'"'s time\n", ts/cp, cp/td }'

echo
echo "Go benchmarks (go test -run '^\$' -bench 'PacketPath|Filter|Flood|Replay1M' -benchmem ./capture):"
go test -run '^$' -bench 'PacketPath|Filter$|Flood|Replay1M' -benchmem -benchtime 2s ./capture | grep -E '^(Benchmark|ok)'
