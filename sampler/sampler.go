package sampler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"
)

// Options configure a Sampler.
type Options struct {
	ProcRoot string        // where procfs is mounted; default "/proc"
	Interval time.Duration // time between samples; default 1s
	// NoNetlink reads the socket table from ProcRoot/net/{tcp,tcp6,udp,udp6} instead of
	// sock_diag (no byte counters). It is also the fallback when sock_diag is unavailable.
	NoNetlink bool
	// NoBPF dumps TCP sockets with sock_diag even where the BPF iterator could be loaded
	// (root with CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN, and a kernel with BTF), which
	// reads the same table in about half the kernel time.
	NoBPF bool
	// NoSockEvents does not load the socket-event programs (bpf/sockev.bpf.c), which tell
	// the owner of every socket as a process takes it; processes are then found through
	// ProcRoot/PID/fd only, which cannot see a connection that closes between two dumps.
	// NoBPF implies it.
	NoSockEvents bool
	// OwnerCapacity bounds the socket owners kept from socket events (default
	// DefaultOwnerCapacity).
	OwnerCapacity int
	// NoDestroyEvents does not subscribe to socket-destroy events.
	NoDestroyEvents bool
	// DestroyLimit bounds the destroy events kept between two samples (default 65536).
	DestroyLimit int
}

// Sampler reads the kernel's counters and socket table once per interval.
// Create it with New; Tick and Run must not be called concurrently.
type Sampler struct {
	opts     Options
	diag     *sockDiag
	watcher  *destroyWatcher
	resolver *procResolver
	events   *sockEvents // nil without socket events
	owners   *OwnerIndex // what events holds, nil without it

	started     bool
	last        time.Time
	prevDev     []IfaceCounters
	haveDev     bool            // prevDev holds a good read
	goneDev     map[string]bool // interfaces seen, then absent from a good read of /proc/net/dev
	prevKernel  KernelTCP
	status      Status
	destroyed   int // destroy events dropped because the buffer was full, session total
	lastSockets int // size of the last socket table

	refreshReq  chan struct{} // RequestRefresh -> Run, capacity 1: requests coalesce
	lastRefresh time.Time     // when Run last took a refresh sample
}

// New opens the sources. It fails only when nothing at all can be read; a source that is
// missing (sock_diag, destroy events) is replaced by a fallback and said so in Status.
func New(opts Options) (*Sampler, error) {
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.DestroyLimit <= 0 {
		opts.DestroyLimit = 65536
	}
	s := &Sampler{opts: opts, resolver: newProcResolver(opts.ProcRoot), refreshReq: make(chan struct{}, 1)}
	if _, err := readNetDev(opts.ProcRoot); err != nil {
		return nil, fmt.Errorf("sampler: %w", err)
	}
	s.status.SocketSource = "proc"
	if !opts.NoNetlink {
		d, err := newSockDiag()
		if err == nil {
			s.diag = d
			s.status.SocketSource = "sock_diag"
			if !opts.NoBPF {
				// Without the privilege (the usual case for a user) loading fails at once,
				// and sock_diag serves: nothing to say.
				if it, err := newTCPIter(); err == nil {
					d.useIter(it)
					s.status.SocketSource = "bpf_iter"
				}
			}
		} else {
			s.status.Notes = append(s.status.Notes, fmt.Sprintf("sock_diag unavailable (%v): sockets from /proc/net, no per-process bytes", err))
		}
	}
	s.status.ProcessSource = ProcessFromProcFD
	if !opts.NoBPF && !opts.NoSockEvents {
		idx := NewOwnerIndex(opts.OwnerCapacity, 0)
		ev, err := newSockEvents(idx, opts.ProcRoot)
		switch {
		case err == nil:
			s.events, s.owners = ev, idx
			s.status.ProcessSource = ProcessFromSockEvents
			if len(ev.missing) > 0 {
				s.status.Notes = append(s.status.Notes, fmt.Sprintf("socket events without %v: those sockets are attributed through /proc/PID/fd only", ev.missing))
			}
		case os.Geteuid() == 0 && !errors.Is(err, errors.ErrUnsupported):
			// as a user, failing is the rule and the status says the source; as root, say why
			s.status.Notes = append(s.status.Notes, fmt.Sprintf("no socket events (%v): processes through /proc/PID/fd, short-lived connections may be unattributed", err))
		}
	}
	if s.diag != nil && !opts.NoDestroyEvents {
		w, err := newDestroyWatcher(opts.DestroyLimit)
		switch {
		case err == nil:
			s.watcher = w
			s.status.DestroyEvents = true
		case errors.Is(err, ErrPermission):
			s.status.Notes = append(s.status.Notes, "no socket-destroy events (needs CAP_NET_ADMIN): bytes a socket sends between the last sample and its close are not counted")
		default:
			s.status.Notes = append(s.status.Notes, fmt.Sprintf("no socket-destroy events: %v", err))
		}
	}
	return s, nil
}

// Owners returns the owners of sockets that socket events reported, for the monitor to join
// flows to processes at first sight; nil when socket events are off (Status.ProcessSource
// says which).
func (s *Sampler) Owners() *OwnerIndex { return s.owners }

// Close releases the netlink sockets and the BPF programs.
func (s *Sampler) Close() error {
	var errs []error
	if s.events != nil {
		errs = append(errs, s.events.Close())
	}
	if s.watcher != nil {
		errs = append(errs, s.watcher.Close())
	}
	if s.diag != nil {
		errs = append(errs, s.diag.Close())
	}
	return errors.Join(errs...)
}

// Tick takes one sample at now. The first call returns the baseline sample.
func (s *Sampler) Tick(now time.Time) *Sample {
	smp := &Sample{Time: now, Procs: make(map[int]*Proc)}
	if !s.started {
		smp.Baseline = true
	} else {
		smp.Elapsed = now.Sub(s.last)
	}

	dev, err := readNetDev(s.opts.ProcRoot)
	if err != nil {
		smp.Errors = append(smp.Errors, &SourceError{SourceNetDev, err})
	} else {
		if s.started && s.haveDev {
			smp.Interfaces = ifaceDeltas(s.prevDev, dev, s.goneDev)
		}
		s.noteGone(dev)
		s.prevDev, s.haveDev = dev, true // a good read, even of no interface
	}

	k, err := readKernelTCP(s.opts.ProcRoot)
	if err != nil {
		smp.Errors = append(smp.Errors, &SourceError{SourceKernelTCP, err})
	} else {
		if s.started {
			smp.Kernel = kernelDelta(s.prevKernel, k)
		}
		s.prevKernel = k
	}

	// Dump before draining destroy events: a socket destroyed after the dump shows up in
	// the next drain, and the monitor remembers vanished sockets long enough to match it.
	s.dumpSockets(smp)
	if s.watcher != nil {
		var dropped int
		smp.Destroyed, dropped = s.watcher.Drain(nil)
		s.destroyed += dropped
		if !s.started {
			smp.Destroyed = nil // before the baseline: not ours to count
		}
	}
	s.resolver.Resolve(smp.Sockets, smp.Procs)
	for i := range smp.Destroyed {
		// a destroyed socket has no fd any more; keep its pid only if the 4-tuple is known
		smp.Destroyed[i].PID = 0
	}
	s.setStatus(smp)
	s.started = true
	s.last = now
	return smp
}

// dumpSockets reads the socket table into smp.
func (s *Sampler) dumpSockets(smp *Sample) {
	// size the table from the last one: growing a 10,000-socket slice costs more than parsing it
	var err error
	smp.Sockets, err = s.sockets(make([]Socket, 0, s.lastSockets+s.lastSockets/8+64))
	s.lastSockets = len(smp.Sockets)
	if err != nil {
		smp.Errors = append(smp.Errors, &SourceError{SourceSockets, err})
	}
}

// setStatus fills smp.Status from what the sources could see.
func (s *Sampler) setStatus(smp *Sample) {
	s.status.AllProcesses = s.resolver.AllProcesses()
	switch {
	case s.status.AllProcesses:
		s.status.ProcessScope = "all"
	case os.Geteuid() == 0:
		s.status.ProcessScope = "partial"
	default:
		s.status.ProcessScope = "own-uid"
	}
	smp.Status = s.status
	smp.Status.Notes = append([]string(nil), s.status.Notes...)
	switch s.status.ProcessScope {
	case "own-uid":
		smp.Status.Notes = append(smp.Status.Notes, fmt.Sprintf("not root: own processes only (uid %d); other users' traffic is unattributed", os.Getuid()))
	case "partial":
		smp.Status.Notes = append(smp.Status.Notes, "some processes hide their sockets (fd links unreadable even to root); their traffic is unattributed")
	}
	if s.destroyed > 0 {
		smp.Status.Notes = append(smp.Status.Notes, fmt.Sprintf("%d socket-destroy events dropped (buffer full)", s.destroyed))
	}
	if s.events != nil {
		rcv, lost, err := s.events.Stats()
		smp.Status.SockEvents = SockEventStats{Received: rcv, Lost: lost, Owners: s.owners.Len()}
		if lost > 0 {
			smp.Status.Notes = append(smp.Status.Notes, fmt.Sprintf("%d socket events lost (ring buffer full): their connections are attributed through /proc/PID/fd only", lost))
		}
		if err != nil {
			smp.Status.ProcessSource = ProcessFromProcFD
			smp.Status.Notes = append(smp.Status.Notes, fmt.Sprintf("socket events stopped (%v): processes through /proc/PID/fd", err))
		}
	}
}

// refresh takes a refresh sample at now: the socket table and its processes only. It
// leaves the counters' previous values and the time of the last sample alone, so the next
// regular sample's deltas still cover its whole interval, and it leaves destroy events
// queued for that sample.
func (s *Sampler) refresh(now time.Time) *Sample {
	smp := &Sample{Time: now, Refresh: true, Procs: make(map[int]*Proc)}
	s.dumpSockets(smp)
	s.resolver.Resolve(smp.Sockets, smp.Procs)
	s.setStatus(smp)
	return smp
}

// RequestRefresh asks Run for one extra Sample with Refresh set: a fresh socket table and
// its processes, so that flows the capture saw before their socket was in a dump can be
// attributed (see monitor.State.NeedRefresh). It is safe to call from any goroutine and
// never blocks: requests made before Run serves one coalesce into it. Run serves at most
// one refresh per Interval/4, deferring a request that comes sooner; a regular sample
// taken after a request satisfies it.
func (s *Sampler) RequestRefresh() {
	select {
	case s.refreshReq <- struct{}{}:
	default:
	}
}

// refreshWait returns how long a refresh requested at now must wait so that refreshes are
// at least interval/4 apart (0: take it now).
func refreshWait(last, now time.Time, interval time.Duration) time.Duration {
	if last.IsZero() {
		return 0
	}
	next := last.Add(interval / 4)
	if now.Before(next) {
		return next.Sub(now)
	}
	return 0
}

func (s *Sampler) sockets(dst []Socket) ([]Socket, error) {
	if s.diag != nil {
		out, err := s.diag.Dump(dst)
		if ierr := s.diag.iterFailure(); ierr != nil {
			s.status.SocketSource = "sock_diag"
			s.status.Notes = append(s.status.Notes, fmt.Sprintf("BPF socket iterator dropped (%v): TCP sockets from sock_diag", ierr))
		}
		if err == nil {
			return out, nil
		}
		// fall through to /proc for this tick, and say why
		pout, perr := readProcNetSockets(s.opts.ProcRoot, dst[:0])
		if perr != nil {
			return pout, errors.Join(err, perr)
		}
		return pout, err
	}
	return readProcNetSockets(s.opts.ProcRoot, dst)
}

// Run sends the baseline sample at once and then one sample per interval on out until ctx
// is done. It never blocks on a slow consumer: while out is full, samples are merged into
// one pending sample (deltas summed, the latest socket table kept) and sent when there is room.
// It returns the sample it could not send yet, if any, so that a caller that stops can apply it.
//
// Between regular samples it answers RequestRefresh with refresh samples (see Sample.Refresh),
// at most one per Interval/4. A refresh is only sent when nothing is pending: a consumer that
// is behind gets a newer socket table with the next regular sample anyway.
func (s *Sampler) Run(ctx context.Context, out chan<- *Sample) *Sample {
	var pending *Sample
	send := func(smp *Sample) {
		if pending != nil {
			pending.merge(smp)
			smp = pending
		}
		select {
		case out <- smp:
			pending = nil
		default:
			pending = smp
		}
	}
	send(s.Tick(time.Now()))
	t := time.NewTicker(s.opts.Interval)
	defer t.Stop()
	var (
		wanted bool // a refresh was requested and not yet served
		timer  *time.Timer
		timerC <-chan time.Time // set while a deferred request waits for the rate limit
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return pending
		case now := <-t.C:
			// the dump below is newer than any request made so far: it serves them
			select {
			case <-s.refreshReq:
			default:
			}
			wanted = false
			send(s.Tick(now))
			continue
		case <-s.refreshReq:
			wanted = true
		case <-timerC:
			timerC = nil
		}
		if !wanted || timerC != nil {
			continue
		}
		now := time.Now()
		if wait := refreshWait(s.lastRefresh, now, s.opts.Interval); wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			timerC = timer.C
			continue
		}
		wanted = false
		s.lastRefresh = now
		if pending != nil {
			continue // the consumer is behind: the pending sample brings a table soon enough
		}
		select {
		case out <- s.refresh(now):
		default: // full: drop it, as above
		}
	}
}

// Final takes a last, partial sample at now, for a run that ends between two ticks.
func (s *Sampler) Final(now time.Time) *Sample { return s.Tick(now) }

// merge folds next (a later sample) into smp, so that nothing is lost when the consumer is slow.
func (smp *Sample) merge(next *Sample) {
	if smp.Refresh {
		// a refresh carries no deltas: the later sample replaces it
		*smp = *next
		return
	}
	if smp.Baseline {
		// never merge the baseline away: the consumer needs it first; keep the newer data
		// as a baseline instead (its deltas are meaningless for a baseline anyway)
		*smp = *next
		smp.Baseline = true
		smp.Elapsed = 0
		smp.Interfaces = nil
		smp.Destroyed = nil
		smp.Kernel = KernelTCP{}
		return
	}
	byName := make(map[string]int, len(smp.Interfaces))
	for i, d := range smp.Interfaces {
		byName[d.Name] = i
	}
	for _, d := range next.Interfaces {
		i, ok := byName[d.Name]
		if !ok {
			smp.Interfaces = append(smp.Interfaces, d)
			continue
		}
		a := &smp.Interfaces[i]
		a.RxBytes += d.RxBytes
		a.RxPackets += d.RxPackets
		a.RxErrors += d.RxErrors
		a.RxDropped += d.RxDropped
		a.TxBytes += d.TxBytes
		a.TxPackets += d.TxPackets
		a.TxErrors += d.TxErrors
		a.TxDropped += d.TxDropped
	}
	k := &smp.Kernel
	n := &next.Kernel
	k.ActiveOpens += n.ActiveOpens
	k.PassiveOpens += n.PassiveOpens
	k.AttemptFails += n.AttemptFails
	k.EstabResets += n.EstabResets
	k.RetransSegs += n.RetransSegs
	k.InErrs += n.InErrs
	k.OutRsts += n.OutRsts
	k.ListenOverflows += n.ListenOverflows
	k.ListenDrops += n.ListenDrops
	k.SyncookiesSent += n.SyncookiesSent
	k.SyncookiesRecv += n.SyncookiesRecv
	k.SyncookiesFailed += n.SyncookiesFailed
	k.TCPReqQFullDrop += n.TCPReqQFullDrop
	smp.Destroyed = append(smp.Destroyed, next.Destroyed...)
	smp.Elapsed += next.Elapsed
	smp.Time = next.Time
	// socket counters are cumulative: the latest table carries everything
	smp.Sockets = next.Sockets
	for pid, p := range next.Procs {
		smp.Procs[pid] = p
	}
	smp.Status = next.Status
	smp.Errors = append(smp.Errors, next.Errors...)
}

// IsRoot reports whether the process runs with uid 0.
func IsRoot() bool { return os.Geteuid() == 0 }

// noteGone updates the interfaces that vanished: those of the previous read missing from
// cur join, those back in cur leave (their return was counted by ifaceDeltas).
func (s *Sampler) noteGone(cur []IfaceCounters) {
	if s.goneDev == nil {
		s.goneDev = map[string]bool{}
	}
	for i := range cur {
		delete(s.goneDev, cur[i].Name)
	}
	for i := range s.prevDev {
		name := s.prevDev[i].Name
		if !slices.ContainsFunc(cur, func(c IfaceCounters) bool { return c.Name == name }) && len(s.goneDev) < 4096 {
			s.goneDev[name] = true
		}
	}
}
