package sampler

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
)

// sockEvObj is the compiled socket-event programs (bpf/sockev.bpf.c, built by
// scripts/gen-bpf.sh).
//
//go:embed bpf/sockev.o
var sockEvObj []byte

// sockEvPoll is how often the reader looks into the ring buffer when no wake-up came. The
// programs wake it for the first record after 5 ms without a wake-up (or when 64 KB wait),
// so that 10,000 connections a second cost about 200 wake-ups, not 10,000, and an idle
// wiretop about 10 (the first 5 ms poll period cost 3% of a core idle, 200 Go syscall
// returns a second). A record that came within 5 ms of a wake-up, with none after it, waits
// for this poll: the monitor looks such flows up again before booking their bytes.
const sockEvPoll = 100 * time.Millisecond

// sockEvRing is the size of the ring buffer: about 12,000 records, over a second of
// connections at 10,000 a second before the first is lost.
const sockEvRing = 1 << 20

// sockEvProgs are the programs of the object; the TCP one is required, a UDP hook that does
// not attach (a kernel before 6.3 has no sock_send_length tracepoint) is left out and said so.
var sockEvProgs = []struct {
	name     string
	required bool
}{
	{"sockev_state", true},
	{"sockev_send", false},
	{"sockev_recv", false},
}

// sockEvents loads the socket-event programs and reads their ring buffer into an
// OwnerIndex in a goroutine of its own. Loading needs root (CAP_BPF and CAP_PERFMON, or
// CAP_SYS_ADMIN) and a kernel with BTF (BTF tracepoints since 5.5, the ring buffer since 5.8,
// the UDP tracepoints since 6.3).
type sockEvents struct {
	coll     *ebpf.Collection
	links    []link.Link
	rd       *ringbuf.Reader
	idx      *OwnerIndex
	done     chan struct{}
	missing  []string // optional hooks that could not be attached
	started  bool
	procRoot string // where the reader reads /proc/PID/cgroup

	received  atomic.Uint64
	malformed atomic.Uint64
	err       atomic.Pointer[error] // why the reader stopped, if it did
}

// newSockEvents loads and attaches the programs and starts the reader.
func newSockEvents(idx *OwnerIndex, procRoot string) (*sockEvents, error) {
	e, err := loadSockEvents(idx, sockEvRing)
	if err == nil {
		e.procRoot = procRoot
		e.start()
	}
	return e, err
}

// start starts the reader.
func (e *sockEvents) start() {
	e.started = true
	go e.run()
}

// loadSockEvents loads and attaches the programs with a ring buffer of ring bytes (a power
// of 2, at least a page); the caller starts the reader (start).
func loadSockEvents(idx *OwnerIndex, ring int) (*sockEvents, error) {
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(sockEvObj))
	if err != nil {
		return nil, fmt.Errorf("socket events: %w", err)
	}
	if m := spec.Maps["events"]; m != nil {
		m.MaxEntries = uint32(ring)
	}
	// Load the programs one by one, so that an optional hook whose function the kernel
	// lacks does not take the others down.
	maps := map[string]*ebpf.Map{}
	e := &sockEvents{idx: idx, done: make(chan struct{})}
	fail := func(err error) (*sockEvents, error) {
		e.closeLinks()
		for _, m := range maps {
			m.Close()
		}
		return nil, err
	}
	for name, ms := range spec.Maps {
		m, err := ebpf.NewMap(ms)
		if err != nil {
			return fail(fmt.Errorf("socket events: map %s: %w", name, wrapPerm(err)))
		}
		maps[name] = m
	}
	progs := map[string]*ebpf.Program{}
	cache := btf.NewCache() // the kernel's BTF, decoded once for every program
	for _, p := range sockEvProgs {
		ps := spec.Programs[p.name]
		if ps == nil {
			return fail(fmt.Errorf("socket events: no program %s in the object", p.name))
		}
		one := spec.Copy()
		for n := range one.Programs {
			if n != p.name {
				delete(one.Programs, n)
			}
		}
		c, err := ebpf.NewCollectionWithOptions(one, ebpf.CollectionOptions{MapReplacements: maps, Cache: cache})
		if err == nil {
			prog := c.DetachProgram(p.name)
			c.Close()
			var l link.Link
			if l, err = link.AttachTracing(link.TracingOptions{Program: prog}); err == nil {
				e.links = append(e.links, l)
				progs[p.name] = prog
				continue
			}
			prog.Close()
		}
		if p.required {
			for _, pr := range progs {
				pr.Close()
			}
			return fail(fmt.Errorf("socket events: %s: %w", p.name, wrapPerm(err)))
		}
		e.missing = append(e.missing, ps.AttachTo)
	}
	e.coll = &ebpf.Collection{Maps: maps, Programs: progs}
	rd, err := ringbuf.NewReader(maps["events"])
	if err != nil {
		return fail(fmt.Errorf("socket events: ring buffer: %w", err))
	}
	e.rd = rd
	debug.FreeOSMemory() // the kernel's BTF, parsed to relocate the programs, is garbage now
	return e, nil
}

func (e *sockEvents) closeLinks() {
	for _, l := range e.links {
		l.Close()
	}
	e.links = nil
}

// run reads records into the index until the reader is closed.
func (e *sockEvents) run() {
	defer close(e.done)
	var (
		rec   ringbuf.Record
		ev    SockEvent
		users = map[uint32]string{}
		cgs   = cgroupNames{root: e.procRoot, m: map[uint64][2]string{}}
	)
	e.rd.SetDeadline(time.Now().Add(sockEvPoll))
	for {
		err := e.rd.ReadInto(&rec)
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			// the ring is drained: sleep until the next poll or wake-up
			e.rd.SetDeadline(time.Now().Add(sockEvPoll))
			continue
		case errors.Is(err, os.ErrClosed):
			return
		default:
			e.err.Store(&err)
			return
		}
		comm, err := parseSockEvent(rec.RawSample, &ev)
		if err != nil {
			e.malformed.Add(1)
			continue
		}
		ev.Owner.Container, ev.Owner.Unit = cgs.of(ev.Owner.Cgroup, ev.Owner.PID)
		e.idx.addRaw(&ev, comm, users)
		e.received.Add(1)
	}
}

// Stats returns the records read, the records the programs could not write because the
// ring buffer was full (lost), and why the reader stopped (nil while it runs).
func (e *sockEvents) Stats() (received, lost uint64, err error) {
	received = e.received.Load()
	var per []uint64
	if m := e.coll.Maps["stats"]; m != nil {
		if m.Lookup(uint32(0), &per) == nil {
			for _, v := range per {
				lost += v
			}
		}
	}
	if p := e.err.Load(); p != nil {
		err = *p
	}
	return received, lost, err
}

// Close stops the reader and detaches the programs.
func (e *sockEvents) Close() error {
	err := e.rd.Close()
	if e.started {
		<-e.done
	}
	e.closeLinks()
	e.coll.Close()
	return err
}
