#!/usr/bin/env bash
# gen-bpf.sh rebuilds the BPF objects that wiretop embeds, from their sources:
#   sampler/bpf/tcpiter.o   the BPF iterator that the sampler loads as root
#   sampler/bpf/sockev.o    the socket events for process attribution
#                           (both CO-RE: need a kernel with BTF, /sys/kernel/btf/vmlinux, whose
#                           types become sampler/bpf/vmlinux.h, not committed; the field offsets
#                           are relocated to the running kernel's when the program is loaded)
#   capture/bpf/flowacct.o  the tc program that accounts flows in the kernel (no CO-RE: it
#                           reads the packet and stable __sk_buff fields, with the uapi
#                           headers of linux-libc-dev and libbpf-dev)
# The objects are committed: building wiretop needs neither clang nor this script. Needs
# clang, llvm-strip, bpftool and libbpf-dev.
# Usage: scripts/gen-bpf.sh [tcpiter] [sockev] [flowacct]   (default: all of them)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
for t in clang bpftool; do
	command -v "$t" >/dev/null || { echo "gen-bpf: $t not found (apt-get install clang llvm libbpf-dev bpftool)" >&2; exit 1; }
done
# Debian keeps asm/types.h under the multiarch directory.
MULTIARCH=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)

cd "$ROOT/sampler/bpf"
bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h
# Arguments name the objects to build (default: all of them).
progs=("$@")
[ ${#progs[@]} -gt 0 ] || progs=(tcpiter sockev flowacct)
for p in "${progs[@]}"; do
	if [ "$p" = flowacct ]; then
		cd "$ROOT/capture/bpf"
		clang -O2 -g -target bpf -Wall -I"/usr/include/$MULTIARCH" -c flowacct.bpf.c -o flowacct.o
		llvm-strip -g flowacct.o 2>/dev/null || true
		echo "gen-bpf: capture/bpf/flowacct.o, $(stat -c %s flowacct.o) bytes"
		continue
	fi
	cd "$ROOT/sampler/bpf"
	clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -I. -c "$p.bpf.c" -o "$p.o"
	llvm-strip -g "$p.o" 2>/dev/null || true
	echo "gen-bpf: sampler/bpf/$p.o, $(stat -c %s "$p.o") bytes"
done
