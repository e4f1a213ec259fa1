package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/wiretop/wiretop/caps"
	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/monitor"
	"github.com/wiretop/wiretop/sampler"
)

// sources are the producers of a run: the sampler (live runs) and the packet capture (live,
// or the replay of a file). Both send on channels that the front end (headless or TUI) reads
// on one goroutine, where it owns the monitor.State.
type sources struct {
	cfg   Config
	smp   *sampler.Sampler // nil in a replay
	cap   *capture.Capture // nil when capture is off
	notes []string         // why capture is off, for the status line and the JSON
	off   string           // why capture is off, in a few words, for the TUI's header

	// closeBatches closes batches when the capture's Run returns (the TUI shows the capture
	// ended); headless reads capDone instead.
	closeBatches bool

	samples     chan *sampler.Sample
	batches     chan *capture.Batch
	unsentTaken bool                 // unsent was called
	smpDone     chan *sampler.Sample // Run's last, unsent sample; closed-over once
	capDone     chan error           // capture Run's result
	cancel      context.CancelFunc
	closed      bool
}

// explicitCapture reports whether the command line asks for packets: then a capture that
// cannot start is an error, not a quiet fallback to tcp_info.
func (c *Config) explicitCapture() bool {
	return c.BaseFilter != "" || c.PacketFilter != "" || c.WriteFile != "" || c.ReplayFile != ""
}

// captureOptions turns the command line into capture options.
func (c *Config) captureOptions() capture.Options {
	o := capture.Options{
		BaseFilter:   c.BaseFilter,
		PacketFilter: c.PacketFilter,
		WriteFile:    c.WriteFile,
		Interval:     c.Interval,
		Speed:        c.speed,
		BufferSize:   c.BufferKiB << 10,
		FlowCap:      c.MaxFlows,
		// Only the TUI asks for packets after start-up (its packets pane, w, the filter).
		NoLatePackets: c.Headless,
	}
	switch {
	case c.Accounting == "ebpf":
		o.Accounting = capture.AccountKernel
	case c.Accounting == "libpcap", !c.Headless:
		// The TUI's packets pane reads every packet through libpcap from the start:
		// counting them there costs less than reading the kernel's copy as well.
		o.Accounting = capture.AccountLibpcap
	}
	if c.ReplayFile != "" {
		o.ReplayFile = c.ReplayFile
	} else {
		o.Interface = c.Interface
	}
	return o
}

// openSources opens the capture (unless --no-capture) and, for a live run, the sampler.
// Capture that is not permitted falls back to tcp_info with a note, unless the command line
// asked for packets explicitly (-f, --packet-filter, -w, -r).
func openSources(cfg Config) (*sources, error) {
	s := &sources{cfg: cfg}
	if cfg.NoCapture {
		s.off = "--no-capture"
		s.notes = append(s.notes, "capture off (--no-capture): processes from tcp_info")
	} else {
		c, err := capture.Open(cfg.captureOptions())
		switch {
		case err == nil:
			s.cap = c
			if cfg.FullBudget {
				if err := c.KeepFullBudget(); err != nil {
					_ = c.Close()
					return nil, err
				}
			}
			if n := c.AccountingNote(); n != "" {
				s.notes = append(s.notes, n)
			} else if cfg.Accounting == "auto" && !cfg.Headless && !c.Replay() {
				s.notes = append(s.notes, "flows counted by libpcap: the packets pane reads every packet (--flows ebpf counts them in the kernel)")
			}
		case errors.Is(err, capture.ErrPermission) && !cfg.explicitCapture():
			s.off = "needs CAP_NET_RAW: run as root or setcap cap_net_raw,cap_net_admin=eip"
			s.notes = append(s.notes, "capture off: needs CAP_NET_RAW (run as root, or setcap cap_net_raw,cap_net_admin=eip on the binary): processes from tcp_info")
		default:
			return nil, err
		}
	}
	if cfg.ReplayFile == "" {
		smp, err := sampler.New(sampler.Options{ProcRoot: cfg.ProcRoot, Interval: cfg.Interval, NoNetlink: cfg.NoNetlink, NoBPF: cfg.NoBPF, NoSockEvents: cfg.NoSockEvents})
		if err != nil {
			s.close()
			return nil, err
		}
		s.smp = smp
	}
	return s, nil
}

// newState returns the monitor state that fits these sources.
func (s *sources) newState() *monitor.State {
	o := monitor.Options{Capture: s.cap != nil}
	if s.smp != nil {
		if ow := s.smp.Owners(); ow != nil { // no typed nil in the interface
			o.Owners = ow
		}
	}
	if s.cfg.ReplayFile != "" {
		o.Replay = true
		o.ReplayName = filepath.Base(s.cfg.ReplayFile)
	}
	st := monitor.New(o)
	if s.cap != nil {
		st.SetCaptureInfo(s.cap.BaseFilter(), s.cap.PacketFilter())
		st.SetCaptureSource(s.cap.AccountingSource())
	}
	return st
}

// start runs the producers until ctx is done or stop is called. It first gives up the
// capabilities that opening the sources needed (dropCapabilities).
func (s *sources) start(ctx context.Context) {
	s.dropCapabilities()
	ctx, s.cancel = context.WithCancel(ctx)
	if s.smp != nil {
		s.samples = make(chan *sampler.Sample, 4)
		s.smpDone = make(chan *sampler.Sample, 1)
		go func() { s.smpDone <- s.smp.Run(ctx, s.samples) }()
	}
	if s.cap != nil {
		s.batches = make(chan *capture.Batch, 4)
		s.capDone = make(chan error, 1)
		go func() {
			err := s.cap.Run(ctx, s.batches)
			if s.closeBatches {
				close(s.batches)
			}
			s.capDone <- err
		}()
	}
}

// stop ends the producers and waits for them. It returns the sample the sampler could not
// send yet (nil if none) and the capture's result; batches already sent stay in s.batches.
func (s *sources) stop() (last *sampler.Sample, capErr error) {
	if s.cancel != nil {
		s.cancel()
	}
	if s.smpDone != nil {
		last = <-s.smpDone
		s.smpDone = nil
	}
	if s.capDone != nil {
		capErr = <-s.capDone
		s.capDone = nil
	}
	return last, capErr
}

// unsent returns, once, the last batch the stopped capture had no room for in s.batches
// (nil if none): it follows the batches there. Call it after stop.
func (s *sources) unsent() *capture.Batch {
	if s.cap == nil || s.unsentTaken {
		return nil
	}
	s.unsentTaken = true
	return s.cap.Unsent()
}

// close releases the sampler's and the capture's handles (the pcap file is flushed).
func (s *sources) close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if s.cap != nil {
		errs = append(errs, s.cap.Close())
	}
	if s.smp != nil {
		errs = append(errs, s.smp.Close())
	}
	return errors.Join(errs...)
}

// dropCapabilities keeps, of what the process holds, only what a running wiretop uses: the
// capture handle, the BPF programs and the netlink sockets are open, and work on without
// CAP_NET_RAW, CAP_NET_ADMIN, CAP_BPF and CAP_PERFMON. What stays: CAP_DAC_READ_SEARCH and
// CAP_SYS_PTRACE, to map other users' sockets to their processes through /proc/PID/fd, and
// in the TUI CAP_DAC_OVERRIDE, to write a pcap (key w) wherever the operator asks. A
// failure is a note, not an error: the run goes on with what it has.
func (s *sources) dropCapabilities() {
	keep := []caps.Cap{caps.DACReadSearch, caps.SysPtrace}
	if !s.cfg.Headless {
		keep = append(keep, caps.DACOverride)
	}
	_, _, err := caps.Drop(keep...)
	if err != nil && !errors.Is(err, errors.ErrUnsupported) {
		s.notes = append(s.notes, err.Error())
	}
}

// refreshAddrsEvery is how often the host's addresses, which orient flows, are read again.
const refreshAddrsEvery = 30 * time.Second

// refreshAddrs gives the capture the host's current addresses (DHCP, VPN and containers
// change them).
func (s *sources) refreshAddrs() {
	if s.cap == nil || s.cap.Replay() {
		return
	}
	if addrs, err := capture.HostAddrs(); err == nil {
		s.cap.SetLocalAddrs(addrs)
	}
}

// describe names what is captured, for errors and the status line.
func (s *sources) describe() string {
	if s.cap == nil {
		return "no capture"
	}
	return fmt.Sprintf("capture on %s", s.cap.Source())
}
