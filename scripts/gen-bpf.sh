#!/usr/bin/env bash
# gen-bpf.sh rebuilds the BPF objects that wiretop embeds, from their sources:
#   sampler/bpf/tcpiter.o   the BPF iterator that the sampler loads as root (CO-RE: needs a
#                           kernel with BTF, /sys/kernel/btf/vmlinux, whose types become
#                           sampler/bpf/vmlinux.h, not committed; the field offsets are
#                           relocated to the running kernel's when the program is loaded)
#   capture/bpf/flowacct.o  the tc program that accounts flows in the kernel (no CO-RE: it
#                           reads the packet and stable __sk_buff fields, with the uapi
#                           headers of linux-libc-dev and libbpf-dev)
# The objects are committed: building wiretop needs neither clang nor this script. Needs
# clang, llvm-strip, bpftool and libbpf-dev.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
for t in clang bpftool; do
	command -v "$t" >/dev/null || { echo "gen-bpf: $t not found (apt-get install clang llvm libbpf-dev bpftool)" >&2; exit 1; }
done
# Debian keeps asm/types.h under the multiarch directory.
MULTIARCH=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)

cd "$ROOT/sampler/bpf"
bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h
clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -I. -c tcpiter.bpf.c -o tcpiter.o
llvm-strip -g tcpiter.o 2>/dev/null || true
echo "gen-bpf: sampler/bpf/tcpiter.o, $(stat -c %s tcpiter.o) bytes"

cd "$ROOT/capture/bpf"
clang -O2 -g -target bpf -Wall -I"/usr/include/$MULTIARCH" -c flowacct.bpf.c -o flowacct.o
llvm-strip -g flowacct.o 2>/dev/null || true
echo "gen-bpf: capture/bpf/flowacct.o, $(stat -c %s flowacct.o) bytes"
