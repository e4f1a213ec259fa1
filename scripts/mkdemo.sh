#!/usr/bin/env bash
# mkdemo.sh regenerates testdata/pcap/demo.pcap: about one minute of a small
# server's life, captured from real traffic between network namespaces. It is
# the capture that demo.tape and scripts/screenshot.sh replay.
#
# Two namespaces joined by one veth pair:
#
#   srv  "web01": 198.18.70.10/24, fd00:198:18:70::10/64, default route via
#        198.18.70.1. Runs python3's http.server on :80 (IPv4 and IPv6, with
#        downloads rate-limited to 1 MiB/s as nginx's limit_rate would), an
#        iperf3 server on :5201 and an SSH-like service on :22 (a python3
#        stand-in: banner, then small encrypted-looking exchanges).
#   net  the rest of the world: the gateway 198.18.70.1 with remote hosts on
#        its loopback (198.18.71-77.x, routed through it) and IPv6 neighbours
#        on the link (fd00:198:18:70::/64). Runs a tiny DNS resolver (python3,
#        A and AAAA, NXDOMAIN for unknown names) and every client.
#
# The minute, on the server's veth (tcpdump, Ethernet, snaplen 256):
#   - web: browsers on 3 IPv4 and 2 IPv6 addresses fetch pages and their assets
#     (HTML, CSS, JS, images, a JSON status, now and then a 404), all the time;
#   - DNS: the server resolves a handful of names, A and AAAA, over IPv4 and
#     IPv6, one name does not exist;
#   - ssh: an admin session (keystrokes and echoes) for the whole minute;
#   - ICMP: a monitoring host pings the server every second (IPv4), an IPv6
#     neighbour every 5 s, the server pings its gateway now and then;
#   - bulk: a backup host downloads a 4 MB file at about 1 MB/s over IPv4 and
#     1.5 MB over IPv6 (tx), and a host uploads 2 MB to iperf3 at 8 Mbit/s (rx);
#   - a port scan: nmap -sS -p 1-1024 at 120 packets/s from one host.
#
# Addresses only from 198.18.70-79.x and fd00:198:18:70::/64; namespace and
# veth names carry a random suffix; everything (namespaces, veths, processes,
# temp files) is removed on exit, also on failure. Every client runs under
# timeout, and the whole script under timeout 150.
#
# Needs root, iproute2, ethtool, tcpdump, curl, iperf3, nmap, iputils-ping,
# python3 (and capinfos from tshark/wireshark-common for the summary).
#
# Usage: scripts/mkdemo.sh [OUTPUT.pcap]   (default testdata/pcap/demo.pcap)
set -euo pipefail

# The watchdog: the whole run is bounded even if a client hangs past its own
# timeout. timeout(1) signals this script's process group; the EXIT trap cleans up.
if [ -z "${MKDEMO_BOUNDED:-}" ]; then
	MKDEMO_BOUNDED=1 exec timeout -s TERM 150 "$0" "$@"
fi

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-"$ROOT/testdata/pcap/demo.pcap"}
SNAP=256
MINUTE=${MKDEMO_SECONDS:-60} # length of the scenario, seconds
SUF=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
NS_S=wtdemo-srv-$SUF
NS_N=wtdemo-net-$SUF
V_S=wds$SUF # veth in srv
V_N=wdn$SUF # veth in net
PIDS=()

die() { echo "mkdemo: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || die "$1 not found (apt-get install -y $2)"; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, packet capture)"
need ip iproute2; need ethtool ethtool; need tcpdump tcpdump; need curl curl
need iperf3 iperf3; need nmap nmap; need ping iputils-ping; need python3 python3
WORK=$(mktemp -d /tmp/mkdemo.XXXXXX)

cleanup() {
	local rc=$?
	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for ns in "$NS_S" "$NS_N"; do # anything else still running in our namespaces
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null; done
	done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	ip netns del "$NS_S" 2>/dev/null
	ip netns del "$NS_N" 2>/dev/null
	rm -rf "$WORK"
	[ "$rc" = 0 ] || echo "mkdemo: failed (exit $rc); namespaces and processes removed" >&2
}
trap cleanup EXIT
trap 'echo "mkdemo: line $LINENO: $BASH_COMMAND failed" >&2' ERR
trap 'exit 130' INT TERM


ins() { ip netns exec "$NS_S" "$@"; }
inn() { ip netns exec "$NS_N" "$@"; }
tin() { timeout "$1" ip netns exec "$NS_N" "${@:2}"; } # bounded client in net
tis() { timeout "$1" ip netns exec "$NS_S" "${@:2}"; } # bounded client in srv

start_bg() { # logfile namespace cmd...: ip netns exec execs into cmd, so $! is cmd's pid
	local log=$1 ns=$2; shift 2
	ip netns exec "$ns" "$@" >"$log" 2>&1 &
	PIDS+=($!)
}
wait_ready() { # logfile
	for _ in $(seq 50); do grep -q ready "$1" 2>/dev/null && return 0; sleep 0.1; done
	cat "$1" >&2; die "$1 never became ready"
}
wait_listen() { # ns port: without connecting (iperf3 counts a probe as a test)
	for _ in $(seq 50); do
		ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q . && return 0
		sleep 0.1
	done
	die "nothing listens on port $2"
}

# --- the lab ---------------------------------------------------------------
ip netns add "$NS_S"; ip netns add "$NS_N"
for ns in "$NS_S" "$NS_N"; do
	ip netns exec "$ns" ip link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
done
ip link add "$V_S" netns "$NS_S" address 02:00:c6:12:46:0a type veth peer name "$V_N" netns "$NS_N" address 02:00:c6:12:46:01
for pair in "$NS_S $V_S" "$NS_N $V_N"; do
	set -- $pair
	# no offloads: the capture must hold wire-sized frames, not 64 KB GSO super-frames
	ip netns exec "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
done
ins ip addr add 198.18.70.10/24 dev "$V_S"
ins ip addr add fd00:198:18:70::10/64 dev "$V_S" nodad
inn ip addr add 198.18.70.1/24 dev "$V_N"
# IPv6 neighbours on the link: gateway, resolver, two browsers, a monitor, a backup host
for a in 1 53 a:15 a:40 77 b:9; do inn ip addr add "fd00:198:18:70::$a/64" dev "$V_N" nodad; done
# IPv4 remote hosts, routed through the gateway
for a in 198.18.71.53 198.18.72.15 198.18.72.88 198.18.73.40 198.18.74.9 198.18.74.30 \
	198.18.75.66 198.18.76.22 198.18.77.5; do
	inn ip addr add "$a/32" dev lo
done
ins ip link set "$V_S" up; inn ip link set "$V_N" up
ins ip route add default via 198.18.70.1
ins ip -6 route add default via fd00:198:18:70::1

# --- the services --------------------------------------------------------
mkdir -p "$WORK/www/static" "$WORK/www/img" "$WORK/www/api" "$WORK/www/downloads"
python3 - "$WORK/www" <<'EOF'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(70)
def text(n, words=("wiretop", "server", "bandwidth", "socket", "packet", "latency", "queue", "status")):
    out = []
    while sum(len(w) + 1 for w in out) < n:
        out.append(rnd.choice(words))
    return " ".join(out)
def put(path, data):
    with open(os.path.join(root, path), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
put("index.html", "<!doctype html><title>web01</title><link rel=stylesheet href=/static/site.css>"
    "<script src=/static/app.js></script><img src=/img/logo.png><p>" + text(3000) + "</p>\n")
put("about.html", "<!doctype html><title>about</title><p>" + text(6000) + "</p>\n")
put("static/site.css", "body{font:14px sans-serif}\n" + "".join(".c%d{margin:%dpx}\n" % (i, i % 9) for i in range(500)))
put("static/app.js", "".join("function f%d(a){return a*%d+%d}\n" % (i, i, i * 7) for i in range(1400)))
put("img/logo.png", bytes(rnd.getrandbits(8) for _ in range(18000)))
put("img/hero.jpg", bytes(rnd.getrandbits(8) for _ in range(60000)))
put("api/status", '{"status":"ok","uptime_s":86400,"load":[0.21,0.18,0.12]}\n')
put("downloads/backup.tar.gz", os.urandom(4 * 1024 * 1024))
put("downloads/db-dump.sql.gz", os.urandom(1536 * 1024))
EOF

# The web server: python3's http.server (dual stack, threaded), with downloads
# sent at 1 MiB/s like nginx's limit_rate (a client-side curl --limit-rate only
# paces its reads; the kernel's receive window lets the file cross in a burst).
cat >"$WORK/www.py" <<'EOF'
import functools, http.server, socket, sys, time
class Handler(http.server.SimpleHTTPRequestHandler):
    def copyfile(self, src, dst):
        if not self.path.startswith("/downloads/"):
            return super().copyfile(src, dst)
        start, sent = time.monotonic(), 0
        while chunk := src.read(16384):
            dst.write(chunk)
            sent += len(chunk)
            ahead = start + sent / (1024 * 1024) - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()
h = functools.partial(Handler, directory=sys.argv[1])
srv = Server(("::", int(sys.argv[2])), h)
print("ready", flush=True)
srv.serve_forever()
EOF

# The DNS resolver (in net) and the server's own lookups (in srv).
cat >"$WORK/dns.py" <<'EOF'
import random, socket, struct, sys, time
ZONE = {  # name -> (A, AAAA); anything else is NXDOMAIN
    "www.wiretop.test": ("198.18.70.10", "fd00:198:18:70::10"),
    "cdn.wiretop.test": ("198.18.72.88", "fd00:198:18:70::a:40"),
    "backup.wiretop.test": ("198.18.74.9", "fd00:198:18:70::b:9"),
    "mirror.deb.test": ("198.18.73.40", None),
    "ntp.wiretop.test": ("198.18.71.53", "fd00:198:18:70::53"),
    "monitor.wiretop.test": ("198.18.77.5", "fd00:198:18:70::77"),
}
def qname(data):
    i, parts = 12, []
    while data[i]:
        parts.append(data[i + 1:i + 1 + data[i]].decode()); i += 1 + data[i]
    return ".".join(parts), i + 1
def answer(data):
    name, end = qname(data)
    qtype = struct.unpack("!H", data[end:end + 2])[0]
    rec = ZONE.get(name.lower())
    q = data[12:end + 4]
    if rec is None:
        return data[:2] + b"\x81\x83" + b"\x00\x01\x00\x00\x00\x00\x00\x00" + q
    addr = rec[0] if qtype == 1 else rec[1] if qtype == 28 else None
    if addr is None:
        return data[:2] + b"\x81\x80" + b"\x00\x01\x00\x00\x00\x00\x00\x00" + q
    fam, typ = (socket.AF_INET, 1) if qtype == 1 else (socket.AF_INET6, 28)
    raw = socket.inet_pton(fam, addr)
    return (data[:2] + b"\x81\x80" + b"\x00\x01\x00\x01\x00\x00\x00\x00" + q
            + b"\xc0\x0c" + struct.pack("!HHIH", typ, 1, 300, len(raw)) + raw)
def query(qid, name, qtype):
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for p in name.split("."):
        q += bytes([len(p)]) + p.encode()
    return q + b"\x00" + struct.pack("!HH", qtype, 1)
if sys.argv[1] == "serve":  # serve ADDR...
    socks = []
    for a in sys.argv[2:]:
        s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((a, 53)); socks.append(s)
    print("ready", flush=True)
    import select
    while True:  # until killed
        for s in select.select(socks, [], [])[0]:
            data, peer = s.recvfrom(2048)
            if 17 <= len(data) < 512:
                s.sendto(answer(data), peer)
elif sys.argv[1] == "lookups":  # lookups SECONDS: the server's resolver traffic
    rnd = random.Random(53)
    names = list(ZONE) + ["nosuch.wiretop.test"]
    servers = ["198.18.71.53", "198.18.71.53", "fd00:198:18:70::53"]
    end = time.monotonic() + float(sys.argv[2])
    qid = 0x2000
    while time.monotonic() < end:
        name, srv = rnd.choice(names), rnd.choice(servers)
        s = socket.socket(socket.AF_INET6 if ":" in srv else socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(1)
        for qtype in (1, 28):  # A and AAAA, like getaddrinfo
            qid += 1
            s.sendto(query(qid, name, qtype), (srv, 53))
            try:
                s.recvfrom(2048)
            except socket.timeout:
                pass
        s.close()
        time.sleep(rnd.uniform(0.8, 4.0))
EOF

# An SSH-like session: a banner each way, then keystrokes and terminal output in
# encrypted-looking records (random bytes, SSH-ish sizes), for SECONDS.
cat >"$WORK/ssh.py" <<'EOF'
import os, random, socket, sys, time
if sys.argv[1] == "serve":  # serve ADDR PORT
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[2], int(sys.argv[3]))); s.listen(16)
    print("ready", flush=True)
    rnd = random.Random(22)
    while True:  # one session at a time, until killed (the port scan connects too)
        c, _ = s.accept()
        c.settimeout(70)
        try:
            c.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
            while True:
                d = c.recv(4096)
                if not d:
                    break
                if d.startswith(b"SSH-"):
                    c.sendall(os.urandom(1080))  # key exchange init
                    continue
                # echo of a keystroke, sometimes a screenful of output
                n = 36 if rnd.random() < 0.8 else rnd.choice([260, 612, 1380, 2900])
                c.sendall(os.urandom(n))
        except OSError:
            pass
        c.close()
else:  # client SRC DST PORT SECONDS
    src, dst, port, secs = sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    rnd = random.Random(76)
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.bind((src, 0)); c.settimeout(5); c.connect((dst, port))
    c.recv(256)
    c.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
    c.recv(4096)
    c.sendall(os.urandom(1300))  # key exchange reply
    end = time.monotonic() + secs
    while time.monotonic() < end:
        # a burst of typing, then a pause to read
        for _ in range(rnd.randint(3, 14)):
            c.sendall(os.urandom(36))
            c.recv(8192)
            time.sleep(rnd.uniform(0.08, 0.3))
        time.sleep(rnd.uniform(0.5, 4.0))
    c.close()
EOF

start_bg "$WORK/dns.log" "$NS_N" python3 "$WORK/dns.py" serve 198.18.71.53 fd00:198:18:70::53
start_bg "$WORK/http.log" "$NS_S" python3 "$WORK/www.py" "$WORK/www" 80
start_bg "$WORK/sshd.log" "$NS_S" python3 "$WORK/ssh.py" serve :: 22
start_bg "$WORK/iperf.log" "$NS_S" iperf3 -s -B 198.18.70.10 -p 5201
wait_ready "$WORK/dns.log"; wait_ready "$WORK/sshd.log"; wait_ready "$WORK/http.log"
wait_listen "$NS_S" 80; wait_listen "$NS_S" 5201
# wait for the link both ways, and prime the neighbour caches, so that the
# capture opens on traffic rather than on ARP/NDP
for dst in 198.18.70.1 fd00:198:18:70::1; do
	for i in $(seq 30); do
		tis 3 ping -c 1 -W 1 "$dst" >/dev/null 2>&1 && break
		[ "$i" = 30 ] && die "the lab link does not come up ($dst)"
		sleep 0.2
	done
done
sleep 1

# --- the minute ----------------------------------------------------------
ins tcpdump -U -q -n -i "$V_S" -s "$SNAP" -w "$WORK/demo.pcap" 2>"$WORK/tcpdump.log" &
TD=$!
PIDS+=("$TD")
sleep 1
T0=$(date +%s.%N)
at() { # wait until SECONDS after the start of the minute
	local now; now=$(date +%s.%N)
	local d; d=$(awk -v a="$T0" -v b="$now" -v t="$1" 'BEGIN { d = a + t - b; print (d > 0 ? d : 0) }')
	sleep "$d"
}

# background for the whole minute
start_bg "$WORK/ssh-c.log" "$NS_N" timeout $((MINUTE + 10)) python3 "$WORK/ssh.py" client 198.18.76.22 198.18.70.10 22 $((MINUTE - 4))
start_bg "$WORK/lookups.log" "$NS_S" timeout $((MINUTE + 10)) python3 "$WORK/dns.py" lookups $((MINUTE - 2))
start_bg "$WORK/ping-mon.log" "$NS_N" timeout $((MINUTE + 10)) ping -q -c $((MINUTE - 2)) -i 1 -I 198.18.77.5 198.18.70.10
start_bg "$WORK/ping6-mon.log" "$NS_N" timeout $((MINUTE + 10)) ping -6 -q -c $((MINUTE / 5)) -i 5 -I fd00:198:18:70::77 fd00:198:18:70::10

# browsers: a page with its assets, from a random client, every 0.4-2.5 s
web() {
	local clients=(198.18.72.15 198.18.73.40 198.18.72.88 fd00:198:18:70::a:15 fd00:198:18:70::a:40)
	local pages=("/index.html /static/site.css /static/app.js /img/logo.png"
		"/about.html /static/site.css /img/hero.jpg"
		"/api/status" "/api/status" "/index.html /img/logo.png" "/favicon.ico /index.html")
	local end=$(( $(date +%s) + MINUTE - 3 ))
	RANDOM=70
	while [ "$(date +%s)" -lt "$end" ]; do
		local c=${clients[RANDOM % ${#clients[@]}]} host=198.18.70.10 urls=()
		case $c in *:*) host="[fd00:198:18:70::10]" ;; esac
		for p in ${pages[RANDOM % ${#pages[@]}]}; do urls+=(-o /dev/null "http://$host$p"); done
		tin 15 curl -s --interface "$c" \
			-A "Mozilla/5.0 (X11; Linux x86_64)" "${urls[@]}" || true
		sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.4 + (r % 2100) / 1000 }')"
	done
}
web &
WEB=$!
PIDS+=("$WEB")

at 3;  tis 5 ping -q -c 3 -i 0.3 198.18.70.1 >/dev/null
at 8
# the backup host pulls a 4 MB archive at about 1 MB/s (tx on the server)
tin 30 curl -sS -o /dev/null --interface 198.18.74.9 http://198.18.70.10/downloads/backup.tar.gz
at 22
# the port scan: 1024 ports at 120 probes/s, about 9 s
tin 40 nmap -n -Pn -sS -p 1-1024 --max-rate 120 --max-retries 1 -S 198.18.75.66 -e "$V_N" 198.18.70.10 \
	>"$WORK/nmap.log" 2>&1
at 36; tis 5 ping -6 -q -c 3 -i 0.3 fd00:198:18:70::1 >/dev/null
at 40
# an upload to the server at 8 Mbit/s, 2 MB (rx on the server)
tin 30 iperf3 -c 198.18.70.10 -p 5201 -B 198.18.74.30 -n 2M -b 8M -l 32K --connect-timeout 3000 >"$WORK/iperf-c.log"
at 50
# a second, shorter pull (1.5 MB) over IPv6 from the backup host's v6 address
tin 20 curl -sS -o /dev/null --interface fd00:198:18:70::b:9 \
	"http://[fd00:198:18:70::10]/downloads/db-dump.sql.gz"
at "$MINUTE"
wait "$WEB" 2>/dev/null || true
sleep 1
kill -TERM "$TD"; wait "$TD" 2>/dev/null || true

grep -q "open" "$WORK/nmap.log" || { cat "$WORK/nmap.log" >&2; die "the port scan found nothing"; }
sed -n '/PORT/,/^$/p' "$WORK/nmap.log"
mkdir -p "$(dirname "$OUT")"
cp "$WORK/demo.pcap" "$OUT"
chmod 0644 "$OUT"
if command -v capinfos >/dev/null; then capinfos -c -u -d -y -i "$OUT"; else ls -l "$OUT"; fi
