package capture

import (
	"encoding/binary"
	"fmt"

	"github.com/gopacket/gopacket"
)

// The packet filter runs libpcap's compiled program (classic BPF) in this
// small interpreter rather than through cgo (pcap_offline_filter): the cgo
// call alone costs more than decoding and accounting a packet (see
// BenchmarkPacketPath and docs/bench-capture.md). It follows libpcap's
// bpf_filter.c (pcap_filter_with_aux_data without aux data, as
// pcap_offline_filter calls it): loads beyond the captured bytes reject the
// packet, BPF_LEN is the length on the wire, division by zero rejects.
// golang.org/x/net/bpf's VM was measured too, and is not used: its BPF_LEN
// is the captured length, so "greater 1000" fails on packets cut by the
// snaplen. FuzzPacketFilter checks this interpreter against libpcap.

// bpfInsn is one classic BPF instruction (struct bpf_insn).
type bpfInsn struct {
	code   uint16
	jt, jf uint8
	k      uint32
}

// bpfProg is a validated classic BPF program.
type bpfProg []bpfInsn

// Instruction classes, sizes, modes, operations and sources (linux/filter.h,
// pcap/bpf.h).
const (
	bpfLD   = 0x00
	bpfLDX  = 0x01
	bpfST   = 0x02
	bpfSTX  = 0x03
	bpfALU  = 0x04
	bpfJMP  = 0x05
	bpfRET  = 0x06
	bpfMISC = 0x07

	bpfW = 0x00
	bpfH = 0x08
	bpfB = 0x10

	bpfIMM = 0x00
	bpfABS = 0x20
	bpfIND = 0x40
	bpfMEM = 0x60
	bpfLEN = 0x80
	bpfMSH = 0xa0

	bpfADD = 0x00
	bpfSUB = 0x10
	bpfMUL = 0x20
	bpfDIV = 0x30
	bpfOR  = 0x40
	bpfAND = 0x50
	bpfLSH = 0x60
	bpfRSH = 0x70
	bpfNEG = 0x80
	bpfMOD = 0x90
	bpfXOR = 0xa0

	bpfJA   = 0x00
	bpfJEQ  = 0x10
	bpfJGT  = 0x20
	bpfJGE  = 0x30
	bpfJSET = 0x40

	bpfK = 0x00
	bpfX = 0x08
	bpfA = 0x10

	bpfTAX = 0x00
	bpfTXA = 0x80

	bpfMemWords = 16
)

// newBPFProg validates a program as libpcap's bpf_validate does: known
// opcodes, jumps that land inside the program, scratch memory indices in
// range, no division by a constant zero, a return at the end.
func newBPFProg(ins []bpfInsn) (bpfProg, error) {
	n := len(ins)
	if n == 0 || n > 4096 {
		return nil, fmt.Errorf("bpf: %d instructions", n)
	}
	for i, in := range ins {
		bad := func(why string) error { return fmt.Errorf("bpf: instruction %d (%#04x): %s", i, in.code, why) }
		rest := uint32(n - i - 1) // instructions after this one
		switch in.code & 0x07 {
		case bpfLD, bpfLDX:
			switch in.code {
			case bpfLD | bpfW | bpfABS, bpfLD | bpfH | bpfABS, bpfLD | bpfB | bpfABS,
				bpfLD | bpfW | bpfIND, bpfLD | bpfH | bpfIND, bpfLD | bpfB | bpfIND,
				bpfLD | bpfIMM, bpfLD | bpfW | bpfLEN, bpfLDX | bpfIMM, bpfLDX | bpfW | bpfLEN,
				bpfLDX | bpfMSH | bpfB:
			case bpfLD | bpfMEM, bpfLDX | bpfMEM:
				if in.k >= bpfMemWords {
					return nil, bad("scratch index out of range")
				}
			default:
				return nil, bad("unknown load")
			}
		case bpfST, bpfSTX:
			if in.code != bpfST && in.code != bpfSTX {
				return nil, bad("unknown store")
			}
			if in.k >= bpfMemWords {
				return nil, bad("scratch index out of range")
			}
		case bpfALU:
			switch in.code &^ bpfX {
			case bpfALU | bpfADD, bpfALU | bpfSUB, bpfALU | bpfMUL, bpfALU | bpfOR, bpfALU | bpfAND,
				bpfALU | bpfLSH, bpfALU | bpfRSH, bpfALU | bpfXOR:
			case bpfALU | bpfDIV, bpfALU | bpfMOD:
				if in.code&bpfX == 0 && in.k == 0 {
					return nil, bad("division by zero")
				}
			case bpfALU | bpfNEG:
				if in.code != bpfALU|bpfNEG {
					return nil, bad("unknown ALU operation")
				}
			default:
				return nil, bad("unknown ALU operation")
			}
		case bpfJMP:
			switch in.code &^ bpfX {
			case bpfJMP | bpfJA:
				if in.code != bpfJMP|bpfJA || in.k >= rest {
					return nil, bad("jump out of the program")
				}
			case bpfJMP | bpfJEQ, bpfJMP | bpfJGT, bpfJMP | bpfJGE, bpfJMP | bpfJSET:
				if uint32(in.jt) >= rest || uint32(in.jf) >= rest {
					return nil, bad("jump out of the program")
				}
			default:
				return nil, bad("unknown jump")
			}
		case bpfRET:
			if in.code != bpfRET|bpfK && in.code != bpfRET|bpfA {
				return nil, bad("unknown return")
			}
		case bpfMISC:
			if in.code != bpfMISC|bpfTAX && in.code != bpfMISC|bpfTXA {
				return nil, bad("unknown misc operation")
			}
		}
	}
	if ins[n-1].code&0x07 != bpfRET {
		return nil, fmt.Errorf("bpf: the program does not end with a return")
	}
	return bpfProg(ins), nil
}

// Matches runs the program on a packet; the packet matches when the program
// returns non-zero. It allocates nothing.
func (prog bpfProg) Matches(ci gopacket.CaptureInfo, p []byte) bool {
	return prog.run(p, uint32(ci.Length)) != 0
}

// run is bpf_filter: p holds the captured bytes, wirelen is the length on
// the wire.
func (prog bpfProg) run(p []byte, wirelen uint32) uint32 {
	var a, x uint32
	var mem [bpfMemWords]uint32
	buflen := uint32(len(p))
	for pc := 0; pc < len(prog); pc++ {
		in := &prog[pc]
		switch in.code {
		case bpfRET | bpfK:
			return in.k
		case bpfRET | bpfA:
			return a
		case bpfLD | bpfW | bpfABS:
			k := in.k
			if k > buflen || 4 > buflen-k {
				return 0
			}
			a = binary.BigEndian.Uint32(p[k:])
		case bpfLD | bpfH | bpfABS:
			k := in.k
			if k > buflen || 2 > buflen-k {
				return 0
			}
			a = uint32(binary.BigEndian.Uint16(p[k:]))
		case bpfLD | bpfB | bpfABS:
			if in.k >= buflen {
				return 0
			}
			a = uint32(p[in.k])
		case bpfLD | bpfW | bpfLEN:
			a = wirelen
		case bpfLDX | bpfW | bpfLEN:
			x = wirelen
		case bpfLD | bpfW | bpfIND:
			k := x + in.k
			if in.k > buflen || x > buflen-in.k || 4 > buflen-k {
				return 0
			}
			a = binary.BigEndian.Uint32(p[k:])
		case bpfLD | bpfH | bpfIND:
			k := x + in.k
			if in.k > buflen || x > buflen-in.k || 2 > buflen-k {
				return 0
			}
			a = uint32(binary.BigEndian.Uint16(p[k:]))
		case bpfLD | bpfB | bpfIND:
			k := x + in.k
			if in.k >= buflen || x >= buflen-in.k {
				return 0
			}
			a = uint32(p[k])
		case bpfLDX | bpfMSH | bpfB:
			if in.k >= buflen {
				return 0
			}
			x = uint32(p[in.k]&0x0f) << 2
		case bpfLD | bpfIMM:
			a = in.k
		case bpfLDX | bpfIMM:
			x = in.k
		case bpfLD | bpfMEM:
			a = mem[in.k&(bpfMemWords-1)]
		case bpfLDX | bpfMEM:
			x = mem[in.k&(bpfMemWords-1)]
		case bpfST:
			mem[in.k&(bpfMemWords-1)] = a
		case bpfSTX:
			mem[in.k&(bpfMemWords-1)] = x
		case bpfJMP | bpfJA:
			pc += int(in.k)
		case bpfJMP | bpfJGT | bpfK:
			pc += jump(a > in.k, in)
		case bpfJMP | bpfJGE | bpfK:
			pc += jump(a >= in.k, in)
		case bpfJMP | bpfJEQ | bpfK:
			pc += jump(a == in.k, in)
		case bpfJMP | bpfJSET | bpfK:
			pc += jump(a&in.k != 0, in)
		case bpfJMP | bpfJGT | bpfX:
			pc += jump(a > x, in)
		case bpfJMP | bpfJGE | bpfX:
			pc += jump(a >= x, in)
		case bpfJMP | bpfJEQ | bpfX:
			pc += jump(a == x, in)
		case bpfJMP | bpfJSET | bpfX:
			pc += jump(a&x != 0, in)
		case bpfALU | bpfADD | bpfX:
			a += x
		case bpfALU | bpfSUB | bpfX:
			a -= x
		case bpfALU | bpfMUL | bpfX:
			a *= x
		case bpfALU | bpfDIV | bpfX:
			if x == 0 {
				return 0
			}
			a /= x
		case bpfALU | bpfMOD | bpfX:
			if x == 0 {
				return 0
			}
			a %= x
		case bpfALU | bpfAND | bpfX:
			a &= x
		case bpfALU | bpfOR | bpfX:
			a |= x
		case bpfALU | bpfXOR | bpfX:
			a ^= x
		case bpfALU | bpfLSH | bpfX:
			a = shl(a, x)
		case bpfALU | bpfRSH | bpfX:
			a = shr(a, x)
		case bpfALU | bpfADD | bpfK:
			a += in.k
		case bpfALU | bpfSUB | bpfK:
			a -= in.k
		case bpfALU | bpfMUL | bpfK:
			a *= in.k
		case bpfALU | bpfDIV | bpfK:
			a /= in.k // validated non-zero
		case bpfALU | bpfMOD | bpfK:
			a %= in.k
		case bpfALU | bpfAND | bpfK:
			a &= in.k
		case bpfALU | bpfOR | bpfK:
			a |= in.k
		case bpfALU | bpfXOR | bpfK:
			a ^= in.k
		case bpfALU | bpfLSH | bpfK:
			a = shl(a, in.k)
		case bpfALU | bpfRSH | bpfK:
			a = shr(a, in.k)
		case bpfALU | bpfNEG:
			a = -a
		case bpfMISC | bpfTAX:
			x = a
		case bpfMISC | bpfTXA:
			a = x
		default:
			return 0 // not reached for a validated program
		}
	}
	return 0
}

func jump(cond bool, in *bpfInsn) int {
	if cond {
		return int(in.jt)
	}
	return int(in.jf)
}

// shl and shr shift as the C code does on the machines libpcap runs on for
// counts below 32; larger counts give 0 (libpcap's checked shifts).
func shl(a, n uint32) uint32 {
	if n >= 32 {
		return 0
	}
	return a << n
}

func shr(a, n uint32) uint32 {
	if n >= 32 {
		return 0
	}
	return a >> n
}
