#!/usr/bin/env bash
# Installs what wiretop needs to build and test on Debian 12: libpcap for capture, and the
# tools the tests drive and compare against. Run as root it installs; otherwise it prints
# the exact command to run and fails.
set -euo pipefail

# package:command pairs; a package is needed when its command (or file) is missing
need=(
  "libpcap-dev:/usr/include/pcap/pcap.h"
  "gcc:gcc"
  "iproute2:ip"
  "iperf3:iperf3"
  "hping3:hping3"
  "jq:jq"
  "tcpdump:tcpdump"
  "tshark:tshark"
  "tmux:tmux"
  "hyperfine:hyperfine"
  "linux-perf:perf"
  "bpftool:bpftool"
  "util-linux:setpriv"
  "procps:ps"
  "curl:curl"
  "nmap:nmap"
  "openssh-server:/usr/sbin/sshd"
  "openssh-client:ssh"
  "sshpass:sshpass"
  "netcat-openbsd:nc.openbsd"
  "socat:socat"
  "nethogs:nethogs"
  "vnstat:vnstat"
  "sqlite3:sqlite3"
  "prometheus:promtool"
  "prometheus-alertmanager:prometheus-alertmanager"
  "systemd:systemd-analyze"
)
missing=()
for pair in "${need[@]}"; do
  pkg=${pair%%:*} what=${pair#*:}
  if [[ $what == /* ]]; then [[ -e $what ]] && continue; else command -v "$what" >/dev/null 2>&1 && continue; fi
  missing+=("$pkg")
done
if ! command -v go >/dev/null 2>&1; then
  echo "deps: Go 1.24 or newer is needed (https://go.dev/doc/install); not found on PATH" >&2
  exit 1
fi
[[ ${#missing[@]} -eq 0 ]] && exit 0
line="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "deps: missing packages: ${missing[*]}" >&2
  echo "deps: run as root:  sudo sh -c '$line'" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# services that a package starts (sshd, vnstat, prometheus) are not wanted: tests start their own
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
