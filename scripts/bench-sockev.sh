#!/usr/bin/env bash
# bench-sockev.sh measures what the BPF socket events cost wiretop under connection churn:
# RATE connections a second (default 10,000) for SECS seconds (default 10), made and accepted by
# scripts/sockchurn on the loopback of a network namespace of their own (so that wiretop's socket
# table and destroy events, which are per namespace, do not see them: only the socket events, which
# are global, do). It runs `wiretop --headless --no-capture` twice under the same churn, with socket
# events and with --no-sock-events, and prints for each the CPU wiretop used (utime+stime from
# /proc/PID/stat over the churn), its peak RSS (VmHWM), and the events received and lost
# (status.sock_events of the summary). With BPF_STATS=1 it also turns kernel.bpf_stats_enabled on
# for the run (and back) and prints the time the programs ran in the kernel, in the connecting
# processes' context. Root only.
set -euo pipefail
RATE=${RATE:-10000}
SECS=${SECS:-10}
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench-sockev: needs root" >&2; exit 1; }
tmp=$(mktemp -d)
ns=wt-churn-$$
cleanup() {
	[ -n "${srv:-}" ] && kill "$srv" 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
	[ -n "${stats_was:-}" ] && sysctl -qw kernel.bpf_stats_enabled="$stats_was" || true
	rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/wiretop" .
go build -o "$tmp/sockchurn" ./scripts/sockchurn
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" "$tmp/sockchurn" -serve 127.0.0.1:7400 >"$tmp/srv.out" &
srv=$!
for _ in $(seq 50); do grep -q listening "$tmp/srv.out" 2>/dev/null && break; sleep 0.1; done
if [ "${BPF_STATS:-0}" = 1 ]; then
	stats_was=$(sysctl -n kernel.bpf_stats_enabled)
	sysctl -qw kernel.bpf_stats_enabled=1
fi
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for mode in sock_events no-sock-events; do
	args=(--headless --no-capture --interval 1s --db '' --top 5)
	[ "$mode" = no-sock-events ] && args+=(--no-sock-events)
	"$tmp/wiretop" "${args[@]}" >"$tmp/$mode.json" 2>"$tmp/$mode.err" &
	wt=$!
	sleep 2
	c0=$(cpu "$wt"); t0=$(date +%s.%N)
	ip netns exec "$ns" "$tmp/sockchurn" -connect 127.0.0.1:7400 -rate "$RATE" -duration "${SECS}s" >"$tmp/$mode.churn"
	c1=$(cpu "$wt"); t1=$(date +%s.%N)
	hwm=$(awk '/VmHWM/ {print $2 " " $3}' "/proc/$wt/status")
	if [ "${BPF_STATS:-0}" = 1 ] && [ "$mode" = sock_events ]; then
		bpftool prog show -j | python3 -c '
import json, sys
pid, secs = int(sys.argv[1]), float(sys.argv[2])
for p in json.load(sys.stdin):
    # the programs of this wiretop: by pid where bpftool lists holders, else by name
    pids = [q["pid"] for q in p.get("pids", [])]
    if not p.get("name", "").startswith("sockev") or (pids and pid not in pids):
        continue
    ns, n = p.get("run_time_ns", 0), p.get("run_cnt", 0)
    print("  program %-13s ran %9d times, %6.0f ns each, %.2f%% of one core over the run" % (p["name"], n, ns / max(n, 1), 100 * ns / 1e9 / secs))
' "$wt" "$(echo "$t1 - $t0" | bc)"
	fi
	sleep 1.5
	kill -INT "$wt"; wait "$wt" || true
	ev=$(tail -n 1 "$tmp/$mode.json" | python3 -c 'import json,sys; s=json.load(sys.stdin)["status"]; print(s.get("process_source"), s.get("sock_events"))')
	awk -v m="$mode" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v tck="$tck" -v hwm="$hwm" -v ev="$ev" -v churn="$(cat "$tmp/$mode.churn")" \
		'BEGIN { printf "%-15s %s\n  wiretop CPU %.2f%% of one core over %.1f s, peak RSS %s; status: %s\n", m, churn, 100 * (c1 - c0) / tck / (t1 - t0), t1 - t0, hwm, ev }'
done
