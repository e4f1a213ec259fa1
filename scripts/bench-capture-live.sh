#!/usr/bin/env bash
# bench-capture-live.sh measures what live capture costs per packet.
#
#   scripts/bench-capture-live.sh [SECONDS] [RUNS] [RATE...]   (root)
#
# veth (the default): capture/internal/udpflood sends 60-byte UDP frames (one flow) from a
# namespace over a veth pair at each RATE (frames/s; 0: as fast as the sender can) for
# SECONDS; the host drops them in IP (a destination that is not its own, forwarding off: no
# ICMP back). Each run measures, one after the other on the same traffic:
#   none      no monitor (the baseline the others' machine CPU is compared with)
#   ebpf      wiretop --headless -i VETH (capture, sampler and attribution on, as a user runs
#             it; flows counted in the kernel, status.capture_source "ebpf")
#   libpcap   the same with --flows libpcap
#   tcpdump   tcpdump -i VETH -w /dev/null -s 128
# and prints for each: CPU seconds per million packets of the process (utime+stime from
# /proc/PID/stat) and of the whole machine (busy jiffies of /proc/stat, minus the baseline's
# per packet: this is where the kernel's share, softirq included, shows), the share of the
# frames the monitor saw, kernel drops and peak RSS (VmHWM). Ratios to tcpdump are of the same
# run. docs/bench-capture.md holds the figures.
#
#   scripts/bench-capture-live.sh syn [SECONDS] [RUNS]   (root, hping3)
#
# the same measurements under a spoofed SYN flood: `hping3 -S --flood --rand-source -p 80`
# from the namespace towards an address the host drops (every packet a new flow; about
# 250,000 frames/s here), instead of udpflood's one flow. The frames sent are the peer's
# tx_packets.
#
#   scripts/bench-capture-live.sh lo [SECONDS] [RUNS]
#
# the earlier loopback bench: iperf3 floods 127.0.0.1 with 64-byte UDP datagrams while
# wiretop --headless -i lo, then tcpdump -i lo -Q in -s 256 -w /dev/null, capture; each
# one's CPU as a share of one core.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/bench-live.XXXXXX)
NS=""
VETH=""
cleanup() {
	kill $(jobs -p) 2>/dev/null || true
	[ -n "$VETH" ] && ip link del "$VETH" 2>/dev/null || true
	[ -n "$NS" ] && ip netns del "$NS" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "bench-capture-live: needs root (live capture)" >&2; exit 1; }
for t in go tcpdump jq ip; do
	command -v "$t" >/dev/null || { echo "bench-capture-live: $t not found (scripts/deps.sh)" >&2; exit 1; }
done
cd "$ROOT"
go build -o "$WORK/wiretop" .
hz=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
# busy jiffies of the whole machine: everything but idle and iowait
machine() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
hwm() { awk '/^VmHWM/{print $2}' "/proc/$1/status"; }
# CPU jiffies of the ksoftirqd threads: the softirq work not done in the sender's context
softirqd() { local t=0 p; for p in $(pgrep -x 'ksoftirqd/[0-9]+'); do t=$((t + $(cpu "$p"))); done; echo $t; }

lo_bench() {
	local SECONDS_RUN=${1:-6} RUNS=${2:-3} PORT=45201
	command -v iperf3 >/dev/null || { echo "bench-capture-live: iperf3 not found" >&2; exit 1; }
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
		"$WORK/wiretop" --headless --db '' -i lo --interval 1s >"$WORK/out.jsonl" 2>"$WORK/err" &
		w=$!
		read -r ticks secs < <(flood "$w")
		kill -INT "$w"; wait "$w" || true
		stats=$(tail -1 "$WORK/out.jsonl" | jq -r '"\(.capture.received) received, \(.capture.dropped) dropped, \(.status.capture_source)"')
		echo "wiretop run $run: $(share "$ticks" "$secs") of one core; $stats"

		tcpdump -i lo -Q in -s 256 -w /dev/null 2>"$WORK/td.err" &
		td=$!
		read -r ticks secs < <(flood "$td")
		kill -INT "$td"; wait "$td" || true
		echo "tcpdump run $run: $(share "$ticks" "$secs") of one core; $(grep -E 'received by filter|dropped by kernel' "$WORK/td.err" | paste -sd, -)"
	done
}

if [ "${1:-}" = lo ]; then
	shift
	lo_bench "$@"
	exit 0
fi

MODE=udp
if [ "${1:-}" = syn ]; then
	MODE=syn
	shift
	command -v hping3 >/dev/null || { echo "bench-capture-live: hping3 not found (scripts/deps.sh)" >&2; exit 1; }
fi
SECONDS_RUN=${1:-6}
RUNS=${2:-3}
shift 2 2>/dev/null || shift $#
RATES=("$@")
[ ${#RATES[@]} -gt 0 ] || RATES=(400000 0)
[ "$MODE" = syn ] && RATES=(syn)
go build -o "$WORK/udpflood" ./capture/internal/udpflood

# the lab subnet (a /24 of 198.18.0.0/15): BENCH_NET=198.18.212 when another bench uses the default
NET=${BENCH_NET:-198.18.182}
id=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
NS="wtbench-$id"
VETH="wtb${id}h"
PEER="wtb${id}n"
ip netns add "$NS"
ip link add "$VETH" type veth peer name "$PEER" netns "$NS"
sysctl -qw "net.ipv6.conf.$VETH.disable_ipv6=1"
ip netns exec "$NS" sysctl -qw "net.ipv6.conf.$PEER.disable_ipv6=1"
sysctl -qw "net.ipv4.conf.$VETH.forwarding=0"
ip addr add "$NET.1/24" dev "$VETH"
ip link set "$VETH" up
ip -n "$NS" addr add "$NET.2/24" dev "$PEER"
ip -n "$NS" link set "$PEER" up
HMAC=$(cat "/sys/class/net/$VETH/address")
# hping3 sends through the namespace's stack: the address the host drops needs a neighbour.
ip -n "$NS" neigh replace "$NET.250" lladdr "$HMAC" dev "$PEER" nud permanent

# traffic RATE: floods for SECONDS_RUN from the namespace; prints udpflood's line ("N frames
# in S s: R frames/s, C s of CPU"). RATE syn: hping3's spoofed SYN flood.
traffic() {
	if [ "$1" != syn ]; then
		ip netns exec "$NS" "$WORK/udpflood" -i "$PEER" -src "$NET.2" -dst "$NET.250" -dmac "$HMAC" -rate "$1" -t "$SECONDS_RUN"
		return
	fi
	local tx0 tx1 s0 s1
	tx0=$(ip netns exec "$NS" cat "/sys/class/net/$PEER/statistics/tx_packets")
	s0=$(date +%s.%N)
	ip netns exec "$NS" /usr/bin/time -o "$WORK/hping.time" -f "%U %S" \
		timeout -s INT "$SECONDS_RUN" hping3 -q -S -p 80 --flood --rand-source "$NET.250" >/dev/null 2>&1 || true
	s1=$(date +%s.%N)
	tx1=$(ip netns exec "$NS" cat "/sys/class/net/$PEER/statistics/tx_packets")
	awk -v n=$((tx1 - tx0)) -v a="$s0" -v b="$s1" -v f="$WORK/hping.time" 'BEGIN {
		getline l < f; split(l, c, " "); el = b - a
		printf "%d frames in %.2f s: %.0f frames/s, %.3f s of CPU\n", n, el, n / el, c[1] + c[2] }'
}

# kernel_seconds NAME: the CPU seconds spent in the capture's kernel hook on the packets'
# path during NAME's flood, from perf's samples: the inclusive time (callees counted) of
# tpacket_rcv (libpcap's packet socket: the copy into the ring, the timestamp, the wakeup)
# or of the flow program (bpf_prog_*_flowacct; tcx's dispatch is inlined into the receive
# path and is not a symbol of its own), in the sender's and ksoftirqd's context.
PERF=""
PERF_HZ=999
command -v perf >/dev/null && perf record -q -a -F "$PERF_HZ" -o /dev/null -- true 2>/dev/null && PERF=perf
kernel_seconds() {
	local f="$WORK/$1.perf" total pct
	[ -n "$PERF" ] && [ -f "$f" ] || { echo 0; return; }
	total=$(perf report -i "$f" -n --stdio --sort comm -g none 2>/dev/null | awk '/%/ { s += $3 } END { print s + 0 }')
	pct=$(perf report -i "$f" --children --stdio --sort symbol -g none --comms udpflood,hping3,ksoftirqd/0,ksoftirqd/1,ksoftirqd/2,ksoftirqd/3 2>/dev/null |
		awk '$4 ~ /^(tpacket_rcv|packet_rcv|bpf_prog_[0-9a-f]+_flowacct)$/ { gsub("%", "", $1); s += $1 } END { print s + 0 }')
	awk -v t="$total" -v p="$pct" -v hz="$PERF_HZ" 'BEGIN { print p / 100 * t / hz }'
}

# measure NAME RATE CMD...: starts CMD (unless NAME is none), floods, stops it; prints
# "NAME sent proc_jiffies machine_jiffies seen dropped hwm_kB source path_seconds", where
# path_seconds is the CPU of the sender (the softirq work in its context included) and of
# ksoftirqd: the packets' path through the kernel, tc programs and packet taps included.
measure() {
	local name=$1 rate=$2
	shift 2
	local pid="" p0=0 p1=0 m0 m1 sent seen=0 dropped=0 mem=0 src=- k0 k1 gen
	if [ "$name" != none ]; then
		"$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
		pid=$!
		sleep 2.5 # open, attached, first interval out
	else
		sleep 1
	fi
	[ -n "$pid" ] && p0=$(cpu "$pid")
	m0=$(machine)
	k0=$(softirqd)
	local perf=()
	[ "$name" != none ] && [ -n "$PERF" ] && perf=(perf record -q -a -g -F "$PERF_HZ" -o "$WORK/$name.perf" --)
	if [ ${#perf[@]} -gt 0 ]; then
		"${perf[@]}" sleep "$SECONDS_RUN" &
		gen=$(traffic "$rate")
		wait $!
	else
		gen=$(traffic "$rate")
	fi
	m1=$(machine)
	k1=$(softirqd)
	sent=$(awk '{print $1}' <<<"$gen")
	local path
	path=$(awk -v k=$((k1 - k0)) -v hz="$hz" '{print $(NF-3) + k / hz}' <<<"$gen")
	if [ -n "$pid" ]; then
		p1=$(cpu "$pid")
		sleep 1.2 # the last interval
		mem=$(hwm "$pid")
		kill -INT "$pid"
		wait "$pid" || true
	fi
	case $name in
	ebpf | libpcap)
		local sum
		sum=$(grep '"type":"summary"' "$WORK/$name.out" | tail -1)
		seen=$(jq '[.talkers[] | .rx_packets + .tx_packets] | add // 0' <<<"$sum")
		dropped=$(jq '.capture.dropped' <<<"$sum")
		src=$(jq -r '.status.capture_source' <<<"$sum")
		;;
	tcpdump)
		seen=$(awk '/packets received by filter/{print $1}' "$WORK/$name.err")
		dropped=$(awk '/packets dropped by kernel/{print $1}' "$WORK/$name.err")
		src=libpcap
		;;
	esac
	echo "$name $sent $((p1 - p0)) $((m1 - m0)) $seen $dropped $mem $src $path $(kernel_seconds "$name")"
}

# progids: the ids of the loaded programs named flowacct (other wiretops may run too)
progids() { bpftool prog show --json 2>/dev/null | jq -r '.[] | select(.name == "flowacct") | .id' | sort; }
# progstats ID: "run_time_ns run_cnt" of that program, while kernel.bpf_stats_enabled is on
progstats() { bpftool prog show id "$1" --json 2>/dev/null | jq -r '"\(.run_time_ns // 0) \(.run_cnt // 0)"'; }

what="60-byte UDP frames"
[ "$MODE" = syn ] && what="hping3 -S --flood --rand-source (54-byte SYNs, a new flow each)"
echo "== $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg); $what over a veth for $SECONDS_RUN s, $RUNS runs per rate"
WT=("$WORK/wiretop" --headless --db '' -i "$VETH" --interval 1s --top 20)
for rate in "${RATES[@]}"; do
	label=$rate
	[ "$rate" = 0 ] && label=max
	: >"$WORK/rows"
	for run in $(seq "$RUNS"); do
		# the baseline before and after the monitors, averaged: the machine drifts
		{
			measure none "$rate"
			measure ebpf "$rate" "${WT[@]}"
			measure libpcap "$rate" "${WT[@]}" --flows libpcap
			measure tcpdump "$rate" tcpdump -i "$VETH" -n -s 128 -w /dev/null
			measure none "$rate"
		} >"$WORK/run"
		awk -v hz="$hz" -v rate="$label" -v run="$run" -v secs="$SECONDS_RUN" -v rows="$WORK/rows" '
			{ name[NR] = $1; sent[NR] = $2; p[NR] = $3; m[NR] = $4; seen[NR] = $5; drop[NR] = $6; mem[NR] = $7; src[NR] = $8; path[NR] = $9; kern[NR] = $10 }
			END {
				base = (m[1] / hz / (sent[1] / 1e6) + m[NR] / hz / (sent[NR] / 1e6)) / 2
				pbase = (path[1] / (sent[1] / 1e6) + path[NR] / (sent[NR] / 1e6)) / 2
				printf "rate %s run %d: no monitor: %.0f, %.0f pkt/s; sender+softirq %.3f s/Mpkt; machine %.3f s/Mpkt\n", rate, run, sent[1] / secs, sent[NR] / secs, pbase, base
				for (i = 2; i < NR; i++) {
					mp = sent[i] / 1e6
					proc[i] = p[i] / hz / mp
					kr[i] = kern[i] / mp
					sys[i] = proc[i] + kr[i]
					mach[i] = m[i] / hz / mp - base
				}
				td = NR - 1
				for (i = 2; i < NR; i++) {
					printf "  %-8s %7.0f pkt/s  process %.3f s/Mpkt (%.2fx)  kernel hook %.3f  process+hook %.3f s/Mpkt (%.2fx)  sender+softirq %+.3f  machine %+.3f  seen %.2f%%  dropped %s  RSS %.1f MB  %s\n",
						name[i], sent[i] / secs, proc[i], proc[i] / proc[td], kr[i], sys[i], sys[i] / sys[td], path[i] / mp - pbase, mach[i], 100 * seen[i] / sent[i], drop[i], mem[i] / 1024, src[i]
					printf "%s %f %f %f %f %f %f %s %s %f %f %f\n", name[i], proc[i], proc[i] / proc[td], sys[i], sys[i] / sys[td], 100 * seen[i] / sent[i], mem[i] / 1024, drop[i], sent[i] / secs, kr[i], path[i] / mp - pbase, mach[i] >> rows
				}
			}' "$WORK/run"
	done
	echo "rate $label: medians of $RUNS runs (ratios: to tcpdump in the same run)"
	for name in ebpf libpcap tcpdump; do
		awk -v n="$name" '$1 == n' "$WORK/rows" | sort -k1 >"$WORK/r.$name"
		med() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
		printf "  %-8s %7.0f pkt/s  process %.3f s/Mpkt (%.2fx)  kernel hook %.3f  process+hook %.3f s/Mpkt (%.2fx)  sender+softirq %+.3f  machine %+.3f  seen %.2f%% (min)  dropped %d (max)  RSS %.1f MB (max)\n" "$name" \
			"$(awk '{print $9}' "$WORK/r.$name" | med)" \
			"$(awk '{print $2}' "$WORK/r.$name" | med)" "$(awk '{print $3}' "$WORK/r.$name" | med)" \
			"$(awk '{print $10}' "$WORK/r.$name" | med)" \
			"$(awk '{print $4}' "$WORK/r.$name" | med)" "$(awk '{print $5}' "$WORK/r.$name" | med)" \
			"$(awk '{print $11}' "$WORK/r.$name" | med)" "$(awk '{print $12}' "$WORK/r.$name" | med)" \
			"$(awk '{print $6}' "$WORK/r.$name" | sort -g | head -1)" "$(awk '{print $8}' "$WORK/r.$name" | sort -g | tail -1)" \
			"$(awk '{print $7}' "$WORK/r.$name" | sort -g | tail -1)"
	done
	# The program's own cost where it runs, from the kernel's BPF statistics (which cost two
	# clock reads per run themselves: a run of its own, not one of the above).
	if command -v bpftool >/dev/null; then
		old=$(sysctl -n kernel.bpf_stats_enabled)
		sysctl -qw kernel.bpf_stats_enabled=1
		progids >"$WORK/ids0"
		"${WT[@]}" >/dev/null 2>&1 &
		w=$!
		sleep 2.5
		pid=$(progids | comm -13 "$WORK/ids0" - | head -1)
		read -r t0 c0 < <(progstats "$pid")
		traffic "$rate" >/dev/null
		read -r t1 c1 < <(progstats "$pid")
		kill -INT "$w"; wait "$w" || true
		sysctl -qw kernel.bpf_stats_enabled="$old"
		awk -v t=$((t1 - t0)) -v c=$((c1 - c0)) 'BEGIN { if (c > 0) printf "  the tc program itself (kernel.bpf_stats_enabled): %.0f ns per packet over %d packets = %.3f s/Mpkt\n", t / c, c, t / c / 1000 }'
	fi
done
