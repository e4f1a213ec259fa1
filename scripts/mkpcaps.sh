#!/usr/bin/env bash
# mkpcaps.sh regenerates the capture files in testdata/pcap/ from real traffic.
#
# It builds network namespaces joined by veth pairs, with addresses only from
# 198.18.0.0/15 (IPv4) and fd00:198:18::/64 (IPv6 ULA), runs bounded traffic
# between them (curl against python3 -m http.server, iperf3 -n, DNS-like UDP,
# fragmented UDP, IPv6 extension headers, ping -c 3) and captures it with
# tcpdump and dumpcap. Nothing leaves the namespaces. Everything is removed on
# exit.
#
# Needs root, iproute2, ethtool, tcpdump, dumpcap (wireshark-common), editcap,
# iperf3, curl, iputils-ping and python3.
#
# The kernel this was written on has no 802.1Q support (CONFIG_VLAN_8021Q and
# CONFIG_BRIDGE_VLAN_FILTERING unset), so a VLAN sub-interface cannot be made.
# Instead a tiny user-space switch (python3, AF_PACKET) in its own namespace
# forwards frames between the client and the server over a veth "trunk" and
# pushes an 802.1Q tag (VID 10) on every frame it puts on the trunk; for the
# QinQ file it pushes an 802.1ad S-tag (VID 100) over the C-tag. tcpdump
# captures on the trunk, so the file holds real, tagged traffic.
#
# Output (each well under 2 MB, snaplen 256 except where noted):
#   mixed-vlan.pcap   Ethernet + 802.1Q: TCP (HTTP, iperf3) and UDP (DNS-like,
#                     fragmented) over IPv4 and IPv6, IPv6 extension headers,
#                     ICMP and ICMPv6 echo
#   qinq.pcap         Ethernet + 802.1ad + 802.1Q: UDP and ICMP
#   any-sll2.pcap     tcpdump -i any -y LINUX_SLL2: veth and loopback traffic
#   any-sll.pcap      tcpdump -i any -y LINUX_SLL (cooked v1)
#   ipv6.pcapng       dumpcap (pcapng): IPv6 TCP and UDP (fragmented too), ICMPv6
set -euo pipefail

OUT=${1:-"$(cd "$(dirname "$0")/.." && pwd)/testdata/pcap"}
SNAP=256
NS_C=wtpc-cli
NS_S=wtpc-srv
NS_W=wtpc-sw
WORK=$(mktemp -d /tmp/mkpcaps.XXXXXX)
PIDS=()

need() { command -v "$1" >/dev/null || { echo "mkpcaps: $1 not found (apt-get install $2)" >&2; exit 1; }; }
[ "$(id -u)" = 0 ] || { echo "mkpcaps: needs root (network namespaces, packet capture)" >&2; exit 1; }
need ip iproute2; need ethtool ethtool; need tcpdump tcpdump; need dumpcap wireshark-common
need editcap wireshark-common; need iperf3 iperf3; need curl curl; need ping iputils-ping; need python3 python3

cleanup() {
	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	ip netns del "$NS_C" 2>/dev/null
	ip netns del "$NS_S" 2>/dev/null
	ip netns del "$NS_W" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

inc() { timeout 30 ip netns exec "$NS_C" "$@"; }
ins() { ip netns exec "$NS_S" "$@"; }
inw() { ip netns exec "$NS_W" "$@"; }

noffload() { # namespace dev
	ip netns exec "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
}

setup() {
	ip netns add "$NS_C"; ip netns add "$NS_S"; ip netns add "$NS_W"
	for ns in "$NS_C" "$NS_S" "$NS_W"; do
		ip netns exec "$ns" ip link set lo up
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	done
	# client <-> switch, server <-> switch, trunk inside the switch
	ip link add c0 netns "$NS_C" address 02:00:c6:12:00:01 type veth peer name c1 netns "$NS_W"
	ip link add s0 netns "$NS_S" address 02:00:c6:12:00:02 type veth peer name s1 netns "$NS_W"
	ip -n "$NS_W" link add t0 type veth peer name t1
	noffload "$NS_C" c0; noffload "$NS_S" s0
	for d in c1 s1 t0 t1; do noffload "$NS_W" "$d"; inw ip link set "$d" up; done
	for d in c1 s1 t0 t1; do inw sysctl -qw "net.ipv6.conf.$d.disable_ipv6=1"; done
	inc ip addr add 198.18.0.1/24 dev c0
	inc ip addr add fd00:198:18::1/64 dev c0 nodad
	ins ip addr add 198.18.0.2/24 dev s0
	ins ip addr add fd00:198:18::2/64 dev s0 nodad
	inc ip link set c0 up; ins ip link set s0 up
}

# The user-space VLAN switch: c1 <-> trunk(t0|t1) <-> s1.
cat >"$WORK/vswitch.py" <<'EOF'
import select, socket, struct, sys
ETH_P_ALL = 3
PACKET_OUTGOING = 4
qinq = len(sys.argv) > 1 and sys.argv[1] == "qinq"
def sock(dev):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((dev, 0))
    return s
c1, s1, t0, t1 = sock("c1"), sock("s1"), sock("t0"), sock("t1")
def tag(frame):
    t = struct.pack("!HH", 0x8100, 10)
    if qinq:
        t = struct.pack("!HH", 0x88a8, 100) + t
    return frame[:12] + t + frame[12:]
def untag(frame):
    # the kernel moves the outer tag of a received frame into metadata; strip
    # whatever tags are still inline
    while frame[12:14] in (b"\x81\x00", b"\x88\xa8"):
        frame = frame[:12] + frame[16:]
    return frame
route = {c1: (t0, tag), s1: (t1, tag), t1: (s1, untag), t0: (c1, untag)}
print("ready", flush=True)
while True:
    r, _, _ = select.select(list(route), [], [])
    for s in r:
        data, addr = s.recvfrom(65535)
        if addr[2] == PACKET_OUTGOING:
            continue
        dst, f = route[s]
        try:
            dst.send(f(data))
        except OSError as e:
            print("drop", len(data), e, file=sys.stderr, flush=True)
EOF

# A DNS-like UDP responder and client, plus fragmented UDP and IPv6 extension headers.
cat >"$WORK/udp.py" <<'EOF'
import socket, struct, sys
def query(qid, name):
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for p in name.split("."):
        q += bytes([len(p)]) + p.encode()
    return q + b"\x00" + struct.pack("!HH", 1, 1)
if sys.argv[1] == "serve":
    fam = socket.AF_INET6 if ":" in sys.argv[2] else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((sys.argv[2], int(sys.argv[3])))
    print("ready", flush=True)
    while True:  # until killed
        data, peer = s.recvfrom(65535)
        if len(data) >= 12 and len(data) < 512:
            # answer: same id, QR set, one A record 198.18.0.2
            resp = data[:2] + b"\x81\x80" + data[4:6] + b"\x00\x01\x00\x00\x00\x00" + data[12:]
            resp += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton("198.18.0.2")
            s.sendto(resp, peer)
elif sys.argv[1] == "ask":
    dst, port, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(2)
    for i in range(n):
        s.sendto(query(0x1000 + i, "host%d.wiretop.test" % i), (dst, port))
        s.recvfrom(2048)
elif sys.argv[1] == "big":
    # one large datagram each: IP fragmentation (IPv4 and IPv6 fragment header)
    dst, port, n, size = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    for i in range(n):
        s.sendto(bytes([i % 256]) * size, (dst, port))
elif sys.argv[1] == "exthdr":
    # IPv6 UDP with Hop-by-Hop and Destination Options headers (PadN only)
    dst, port, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    padn = bytes([0, 0, 1, 4, 0, 0, 0, 0])
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_HOPOPTS, padn)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, padn)
    for i in range(n):
        s.sendto(b"exthdr-%d" % i, (dst, port))
EOF

start_bg() { # logfile namespace cmd...: ip netns exec execs into cmd, so $! is cmd's pid
	local log=$1 ns=$2; shift 2
	ip netns exec "$ns" "$@" >"$log" 2>&1 &
	PIDS+=($!)
}
wait_ready() { # logfile
	for _ in $(seq 50); do grep -q ready "$1" 2>/dev/null && return 0; sleep 0.1; done
	echo "mkpcaps: $1 never became ready" >&2; cat "$1" >&2; exit 1
}
wait_tcp() { # ns addr port
	for _ in $(seq 50); do
		ip netns exec "$1" python3 -c "import socket,sys;socket.create_connection((sys.argv[1],int(sys.argv[2])),1)" "$2" "$3" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "mkpcaps: nothing listens on $2:$3" >&2; exit 1
}
wait_listen() { # ns port: without connecting (iperf3 counts a probe as a test)
	for _ in $(seq 50); do
		ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q . && return 0
		sleep 0.1
	done
	echo "mkpcaps: nothing listens on port $2" >&2; exit 1
}
stop_capture() { # pid of the capture (ip netns exec execs into it)
	sleep 0.5
	kill -TERM "$1"; wait "$1" 2>/dev/null || true
}

setup
mkdir -p "$WORK/www" "$OUT"
head -c 120000 /dev/urandom >"$WORK/www/blob.bin"
echo "wiretop test page" >"$WORK/www/index.html"

start_bg "$WORK/http.log" "$NS_S" python3 -m http.server --bind :: --directory "$WORK/www" 8080
start_bg "$WORK/dns4.log" "$NS_S" python3 "$WORK/udp.py" serve 198.18.0.2 53
start_bg "$WORK/dns6.log" "$NS_S" python3 "$WORK/udp.py" serve fd00:198:18::2 53
start_bg "$WORK/sink4.log" "$NS_S" python3 "$WORK/udp.py" serve 198.18.0.2 9999
start_bg "$WORK/sink6.log" "$NS_S" python3 "$WORK/udp.py" serve fd00:198:18::2 9999
wait_ready "$WORK/dns4.log"; wait_ready "$WORK/dns6.log"; wait_ready "$WORK/sink4.log"; wait_ready "$WORK/sink6.log"

run_vswitch() { # mode
	start_bg "$WORK/vswitch-$1.log" "$NS_W" python3 "$WORK/vswitch.py" "$1"
	VSW=${PIDS[-1]}
	wait_ready "$WORK/vswitch-$1.log"
}

# (a) mixed-vlan.pcap: everything, 802.1Q on the trunk.
run_vswitch vlan
wait_tcp "$NS_C" 198.18.0.2 8080
ip netns exec "$NS_W" tcpdump -U -q -n -i t0 -s "$SNAP" -w "$WORK/mixed-vlan.pcap" 2>"$WORK/td-a.log" &
TD=$!; sleep 1
inc ping -c 3 -i 0.2 198.18.0.2 >/dev/null
inc ping -6 -c 3 -i 0.2 fd00:198:18::2 >/dev/null
inc curl -sS -o /dev/null --max-time 10 http://198.18.0.2:8080/blob.bin
inc curl -sS -o /dev/null --max-time 10 "http://[fd00:198:18::2]:8080/index.html"
inc curl -sS -o /dev/null --max-time 10 "http://[fd00:198:18::2]:8080/blob.bin"
inc python3 "$WORK/udp.py" ask 198.18.0.2 53 5
inc python3 "$WORK/udp.py" ask fd00:198:18::2 53 5
inc python3 "$WORK/udp.py" big 198.18.0.2 9999 2 3000
inc python3 "$WORK/udp.py" big fd00:198:18::2 9999 2 3000
inc python3 "$WORK/udp.py" exthdr fd00:198:18::2 9999 3
start_bg "$WORK/iperf.log" "$NS_S" iperf3 -s -B 198.18.0.2 -p 5201
wait_listen "$NS_S" 5201
inc iperf3 -c 198.18.0.2 -p 5201 -n 300K -l 16K --connect-timeout 3000 >"$WORK/iperf-c.log"
inc ping -c 1 198.18.0.2 >/dev/null
stop_capture "$TD"
kill "$VSW"; wait "$VSW" 2>/dev/null || true

# qinq.pcap: 802.1ad + 802.1Q, small packets only (the double tag must fit the trunk MTU)
run_vswitch qinq
ip netns exec "$NS_W" tcpdump -U -q -n -i t0 -s "$SNAP" -w "$WORK/qinq.pcap" 2>"$WORK/td-q.log" &
TD=$!; sleep 1
inc ping -c 3 -i 0.2 198.18.0.2 >/dev/null
inc python3 "$WORK/udp.py" ask 198.18.0.2 53 3
inc python3 "$WORK/udp.py" ask fd00:198:18::2 53 3
stop_capture "$TD"
kill "$VSW"; wait "$VSW" 2>/dev/null || true

# From here on the client and the server talk over a plain veth.
ip -n "$NS_W" link del t0
ip -n "$NS_W" link del c1 2>/dev/null || true
ip -n "$NS_W" link del s1 2>/dev/null || true
ip link add c0 netns "$NS_C" address 02:00:c6:12:00:01 type veth peer name s0 netns "$NS_S" address 02:00:c6:12:00:02
inc ip addr add 198.18.0.1/24 dev c0; inc ip addr add fd00:198:18::1/64 dev c0 nodad; inc ip link set c0 up
ins ip addr add 198.18.0.2/24 dev s0; ins ip addr add fd00:198:18::2/64 dev s0 nodad; ins ip link set s0 up
sleep 0.5
start_bg "$WORK/lohttp.log" "$NS_C" python3 -m http.server --bind 127.0.0.1 --directory "$WORK/www" 8081
wait_tcp "$NS_C" 127.0.0.1 8081

# (b) cooked captures from -i any: the veth and the client's loopback.
for lt in LINUX_SLL2 LINUX_SLL; do
	f=any-sll2.pcap; [ "$lt" = LINUX_SLL ] && f=any-sll.pcap
	ip netns exec "$NS_C" tcpdump -U -q -n -i any -y "$lt" -s "$SNAP" -w "$WORK/$f" 2>"$WORK/td-$lt.log" &
	TD=$!; sleep 1
	inc curl -sS -o /dev/null --max-time 10 http://198.18.0.2:8080/index.html
	inc curl -sS -o /dev/null --max-time 10 http://127.0.0.1:8081/blob.bin
	inc python3 "$WORK/udp.py" ask 198.18.0.2 53 3
	inc python3 "$WORK/udp.py" ask fd00:198:18::2 53 2
	inc ping -c 3 -i 0.2 198.18.0.2 >/dev/null
	stop_capture "$TD"
done

# (c) ipv6.pcapng written by dumpcap (pcapng with IDB/EPB blocks).
ip netns exec "$NS_C" dumpcap -q -i c0 -s "$SNAP" -w "$WORK/ipv6.pcapng" 2>"$WORK/dumpcap.log" &
TD=$!; sleep 1.5
inc curl -sS -o /dev/null --max-time 10 "http://[fd00:198:18::2]:8080/blob.bin"
inc python3 "$WORK/udp.py" ask fd00:198:18::2 53 4
inc python3 "$WORK/udp.py" big fd00:198:18::2 9999 1 4000
inc ping -6 -c 3 -i 0.2 fd00:198:18::2 >/dev/null
stop_capture "$TD"

for f in mixed-vlan.pcap qinq.pcap any-sll2.pcap any-sll.pcap ipv6.pcapng; do
	cp "$WORK/$f" "$OUT/$f"
done
chmod 0644 "$OUT"/*
ls -l "$OUT"
for f in "$OUT"/*; do echo "$f: $(tcpdump -r "$f" 2>/dev/null | wc -l) packets"; done
