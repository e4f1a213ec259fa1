#!/bin/bash
# screenshot-lab.sh [SECONDS]: a network namespace joined to this one by a veth pair (wtshoth,
# 198.18.44.1 <-> 198.18.44.2) with bounded traffic for SECONDS (default 44): an iperf3 upload at
# 24 Mbit/s, curl fetching a 300 kB file every 0.3 s, pings. Everything is removed on exit. The
# README's picture is made with it (as root):
#   scripts/screenshot-lab.sh 50 & sleep 3; scripts/screenshot.sh -w 22 -- -i wtshoth
# Needs iproute2, iperf3, curl, python3, iputils-ping.
set -e
NS=wtshot; H=wtshoth; N=wtshotn
cleanup() { kill $(jobs -p) 2>/dev/null; ip link del $H 2>/dev/null; ip netns del $NS 2>/dev/null; }
trap cleanup EXIT
ip netns add $NS; ip link add $H type veth peer name $N; ip link set $N netns $NS
ip addr add 198.18.44.1/24 dev $H; ip link set $H up
ip netns exec $NS ip addr add 198.18.44.2/24 dev $N; ip netns exec $NS ip link set $N up; ip netns exec $NS ip link set lo up
mkdir -p /tmp/www; head -c 300000 /dev/urandom > /tmp/www/big.bin; echo hello > /tmp/www/index.html
ip netns exec $NS iperf3 -s -p 5201 >/dev/null 2>&1 &
ip netns exec $NS sh -c 'cd /tmp/www && exec python3 -m http.server 8080' >/dev/null 2>&1 &
ip netns exec $NS sh -c 'while true; do sleep 60; done' &
sleep 1
timeout 45 iperf3 -c 198.18.44.2 -p 5201 -b 24M -t 40 >/dev/null 2>&1 &
timeout 45 sh -c 'while true; do curl -s -o /dev/null http://198.18.44.2:8080/big.bin; sleep 0.3; done' &
timeout 45 ping -q -i 0.5 198.18.44.2 >/dev/null 2>&1 &
sleep "${1:-44}"
