#!/usr/bin/env bash
# gen-bpf.sh rebuilds sampler/bpf/tcpiter.o, the BPF iterator that the sampler loads as
# root, from sampler/bpf/tcpiter.bpf.c. The object is committed: building wiretop needs
# neither clang nor this script. Needs clang, bpftool and libbpf-dev, and a kernel with BTF
# (/sys/kernel/btf/vmlinux), whose types become sampler/bpf/vmlinux.h (not committed; CO-RE
# relocates the field offsets to the running kernel's when the program is loaded).
set -euo pipefail
cd "$(dirname "$0")/../sampler/bpf"
for t in clang bpftool; do
	command -v "$t" >/dev/null || { echo "gen-bpf: $t not found (apt-get install clang llvm libbpf-dev bpftool)" >&2; exit 1; }
done
bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h
clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -I. -c tcpiter.bpf.c -o tcpiter.o
llvm-strip -g tcpiter.o 2>/dev/null || true
echo "gen-bpf: sampler/bpf/tcpiter.o, $(stat -c %s tcpiter.o) bytes"
