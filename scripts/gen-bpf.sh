#!/usr/bin/env bash
# gen-bpf.sh rebuilds the BPF objects that the sampler loads as root: sampler/bpf/tcpiter.o
# (the TCP socket iterator) from tcpiter.bpf.c, and sampler/bpf/sockev.o (socket events
# for process attribution) from sockev.bpf.c. The objects are committed: building wiretop needs
# neither clang nor this script. Needs clang, bpftool and libbpf-dev, and a kernel with BTF
# (/sys/kernel/btf/vmlinux), whose types become sampler/bpf/vmlinux.h (not committed; CO-RE
# relocates the field offsets to the running kernel's when the program is loaded).
set -euo pipefail
# Usage: scripts/gen-bpf.sh [tcpiter] [sockev]
cd "$(dirname "$0")/../sampler/bpf"
for t in clang bpftool; do
	command -v "$t" >/dev/null || { echo "gen-bpf: $t not found (apt-get install clang llvm libbpf-dev bpftool)" >&2; exit 1; }
done
bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h
# Arguments name the objects to build (default: all of them).
progs=("$@")
[ ${#progs[@]} -gt 0 ] || progs=(tcpiter sockev)
for p in "${progs[@]}"; do
	clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -I. -c "$p.bpf.c" -o "$p.o"
	llvm-strip -g "$p.o" 2>/dev/null || true
	echo "gen-bpf: sampler/bpf/$p.o, $(stat -c %s "$p.o") bytes"
done
