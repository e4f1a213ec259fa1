//go:build linux

package capture

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
)

// pcapHandle is a libpcap handle, live or on a file.
type pcapHandle struct {
	h    *pcap.Handle
	file string // replay file; "" for a live capture
}

func (p *pcapHandle) source() gopacket.ZeroCopyPacketDataSource { return p.h }
func (p *pcapHandle) linkType() int                             { return int(p.h.LinkType()) }
func (p *pcapHandle) snapLen() int                              { return p.h.SnapLen() }
func (p *pcapHandle) close()                                    { p.h.Close() }

func (p *pcapHandle) timeout(err error) bool {
	return errors.Is(err, pcap.NextErrorTimeoutExpired)
}

func (p *pcapHandle) stats() (recv, drop, ifdrop uint32, err error) {
	if p.file != "" {
		return 0, 0, 0, nil
	}
	s, err := p.h.Stats()
	if err != nil {
		return 0, 0, 0, err
	}
	return uint32(s.PacketsReceived), uint32(s.PacketsDropped), uint32(s.PacketsIfDropped), nil
}

func (p *pcapHandle) readError(err error) error {
	msg := err.Error()
	if errors.Is(err, pcap.NextErrorReadError) {
		msg = p.h.Error().Error() // pcap_geterr: what went wrong
	}
	if p.file != "" {
		return fmt.Errorf("%w: %s: %s", ErrBadFile, p.file, msg)
	}
	return fmt.Errorf("capture: read: %s", msg)
}

// badFilter wraps libpcap's complaint about a filter expression.
func badFilter(expr string, err error) error {
	return fmt.Errorf("%w %q: %s", ErrBadFilter, expr, err)
}

// openReplayLibpcap opens a capture file with libpcap.
func openReplayLibpcap(path string) (handle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	defer f.Close() // libpcap reads from a duplicate of the descriptor
	h, err := pcap.OpenOfflineFile(f)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %s", ErrBadFile, path, err)
	}
	return &pcapHandle{h: h, file: path}, nil
}

// liveOpener checks the interface and returns the function that opens (and
// reopens, with another snaplen) a live handle on it. skipLoopOut is set for
// "any", where loopback packets must be deduplicated from the cooked header.
func liveOpener(o Options) (open func(snaplen int) (handle, error), skipLoopOut bool, err error) {
	iface := o.Interface
	loopback := false
	if iface != "any" {
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			return nil, false, fmt.Errorf("capture on %s: %w", iface, ErrNoInterface)
		}
		loopback = ifi.Flags&net.FlagLoopback != 0
	}
	open = func(snaplen int) (handle, error) {
		ih, err := pcap.NewInactiveHandle(iface)
		if err != nil {
			return nil, liveError(iface, err)
		}
		defer ih.CleanUp()
		for _, set := range []func() error{
			func() error { return ih.SetSnapLen(snaplen) },
			func() error { return ih.SetPromisc(o.Promisc) },
			func() error { return ih.SetTimeout(liveReadTimeout(o.Interval)) },
			func() error { return ih.SetBufferSize(o.BufferSize) },
			func() error { return ih.SetImmediateMode(false) }, // a TPACKET_V3 ring: see doc.go
		} {
			if err := set(); err != nil {
				return nil, liveError(iface, err)
			}
		}
		h, err := ih.Activate()
		if err != nil {
			return nil, liveError(iface, err)
		}
		if loopback {
			// On lo every packet is seen twice, going out and coming in:
			// keep the copy coming in.
			if err := h.SetDirection(pcap.DirectionIn); err != nil {
				h.Close()
				return nil, fmt.Errorf("capture on %s: direction: %w", iface, err)
			}
		}
		if o.BaseFilter != "" {
			if err := h.SetBPFFilter(o.BaseFilter); err != nil {
				h.Close()
				return nil, badFilter(o.BaseFilter, err)
			}
		}
		return &pcapHandle{h: h}, nil
	}
	return open, iface == "any", nil
}

// liveError maps libpcap's activation errors to the package's sentinels.
func liveError(iface string, err error) error {
	msg := err.Error()
	low := strings.ToLower(msg)
	switch {
	case strings.Contains(low, "permission") || strings.Contains(low, "not permitted"):
		if low == "permission denied" {
			return fmt.Errorf("capture on %s: %w", iface, ErrPermission)
		}
		return fmt.Errorf("capture on %s: %w (%s)", iface, ErrPermission, msg)
	case strings.Contains(low, "no such device"):
		return fmt.Errorf("capture on %s: %w", iface, ErrNoInterface)
	}
	return fmt.Errorf("capture on %s: %s", iface, msg)
}

// compileFilter compiles a packet filter with libpcap for the link type,
// to run in user space in bpfProg. A program the interpreter does not accept
// (none that pcap_compile emits, so far) runs in libpcap through cgo.
func compileFilter(dlt int, expr string) (matcher, error) {
	ins, err := pcap.CompileBPFFilter(layers.LinkType(dlt), WriteSnaplen, expr)
	if err != nil {
		return nil, badFilter(expr, err)
	}
	prog := make([]bpfInsn, len(ins))
	for i, in := range ins {
		prog[i] = bpfInsn{code: in.Code, jt: in.Jt, jf: in.Jf, k: in.K}
	}
	if p, err := newBPFProg(prog); err == nil {
		return p, nil
	}
	return compileFilterCgo(dlt, expr)
}

// compileFilterCgo compiles a packet filter run by pcap_offline_filter.
func compileFilterCgo(dlt int, expr string) (matcher, error) {
	b, err := pcap.NewBPF(layers.LinkType(dlt), WriteSnaplen, expr)
	if err != nil {
		return nil, badFilter(expr, err)
	}
	return b, nil
}

// setPass replaces the handle's kernel filter by one that accepts every packet (pass) or
// none: with the flows counted in the kernel, packets reach user space only while they are
// wanted. The handle of such a capture has no base filter (see Capture.openKernel).
func (p *pcapHandle) setPass(pass bool) error {
	var k uint32 // BPF_RET|BPF_K 0: drop
	if pass {
		k = uint32(WriteSnaplen)
	}
	if err := p.h.SetBPFInstructionFilter([]pcap.BPFInstruction{{Code: 0x06, K: k}}); err != nil {
		return fmt.Errorf("capture: packet handle filter: %w", err)
	}
	return nil
}
