package monitor

import (
	"cmp"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/sampler"
)

// Options configure a State.
type Options struct {
	HistoryLen int // interval rates kept per interface for charts (default 300)
	// GoneTicks is how many samples a vanished socket is remembered so that a late
	// socket-destroy event still completes its count (default 3).
	GoneTicks int

	// Capture says packets are captured: processes count pcap bytes (source "pcap") from the
	// start, and tcp_info deltas are not added. Without it, the first ApplyBatch turns it on.
	Capture bool
	// Replay says there is no sampler (-r FILE): each ApplyBatch closes its own interval,
	// drives the clock and feeds the pseudo-interface ReplayName; flows are not attributed.
	Replay bool
	// ReplayName is the name of the replay's pseudo-interface (default "replay").
	ReplayName string
	// TalkerCap bounds the talker table (default 65536); flows beyond it go to the
	// overflow row, and idle talkers are evicted when it fills (see Talkers).
	TalkerCap int
	// TalkerIdle, when set, also evicts talkers silent for longer than this.
	TalkerIdle time.Duration
	// PacketRing is how many packet summaries Packets keeps (default 2000).
	PacketRing int
	// PendingRetries is how many regular samples a flow whose socket was not found is looked
	// up again before it stays unattributed (default 3).
	PendingRetries int
	// Owners, when set, are the socket owners that socket events reported
	// (sampler.Sampler.Owners): a flow whose socket the latest table does not hold, or holds
	// without a process, is attributed from them at first sight.
	Owners OwnerLookup
}

// AllInterfaces is the name of the aggregate of every interface except loopback.
const AllInterfaces = "all"

// Iface is what the State knows of one interface.
type Iface struct {
	Name                 string
	Rx, Tx               *Series // bytes
	RxPackets, TxPackets uint64  // packets over the session
	RxErrors, TxErrors   uint64  // errors over the session
	RxDropped, TxDropped uint64  // drops over the session
	Last                 sampler.IfaceDelta
	Present              bool // seen in the latest sample
}

// Process is the traffic of one process.
type Process struct {
	PID     int
	Comm    string
	Cmdline string
	Exe     string // the executable's path ("" when unknown)
	User    string
	UID     uint32
	Source  string // "tcp_info" or "pcap"
	// Container is the container the process runs in ("docker:ID", "podman:ID",
	// "containerd:ID", ...) and Unit its systemd unit, from its cgroup; "" for none.
	Container, Unit string
	NetNS           uint32 // inode of its network namespace (of its sockets, from socket events); 0 unknown

	RxBytes, TxBytes uint64  // bytes in the last interval
	RxRate, TxRate   float64 // bytes per second over the last interval
	RxTotal, TxTotal uint64  // bytes over the session
	Alive            bool    // the process held sockets in the latest sample
	lastActive       int
}

// StateCount is one bar of the TCP state histogram.
type StateCount struct {
	Name  string // as ss prints it
	Count int
	Delta int // change since the previous sample
}

// Counts are bytes each way.
type Counts struct {
	RxBytes, TxBytes uint64
}

// sockKey identifies a socket across dumps and its destroy event: its kernel cookie. Only
// sock_diag sockets carry tcp_info, and every one has a cookie (the kernel's cookies start
// at 1); a socket without one is not accounted. A 64-bit key keeps the per-sample map work
// on a busy host small (10,000 sockets: 5 ms with the whole 4-tuple as the key, see
// BenchmarkApplySample).
type sockKey = uint64

func keyOf(s *sampler.Socket) sockKey { return s.Cookie }

type sockAcct struct {
	acked, received uint64
	pid             int
	seen            int // tick last seen in a dump
}

// State is the shared domain state. Create it with New.
type State struct {
	opts    Options
	tick    int
	start   time.Time
	last    time.Time
	elapsed time.Duration
	lastEl  time.Duration // elapsed of the latest sample

	ifaces     map[string]*Iface
	all        *Iface
	states     [numStates]int
	prevStates [numStates]int
	kernel     sampler.KernelTCP // last interval
	kernelTot  sampler.KernelTCP // session

	socks map[sockKey]*sockAcct
	gone  map[sockKey]*sockAcct
	procs map[int]*Process

	unattrib, unattribTot Counts
	status                sampler.Status
	errors                []error
	sockets               int
	intervals             int // intervals closed (regular samples, or replayed batches)

	// capture side (talkers.go, attrib.go, capture.go)
	captureSeen           bool
	cap                   CaptureInfo
	index                 sockIndex
	pending               []*talker // flows whose socket was not found yet
	needRefresh           bool
	talkers               map[tkey]*talker
	talkerRoom            int       // the talkers that the map was made for (roomForTalkers)
	list                  []*talker // the talkers of the map, for cheap iteration
	slab                  []talker  // the chunk newTalker takes new talkers from
	dying, free           []*talker // evicted at the latest close; reusable (recycle)
	talkersMade           int       // talkers taken from chunks, not reused
	overflow              *talker
	touched, prevTouched  []*talker          // talkers with bytes in the open and in the last interval
	remoteIdx             map[netip.Addr]int // DetectView's index of Remotes, reused
	remoteRoom            int                // the size remoteIdx was made for
	recent                []*talker          // talkers with bytes inside the longest window
	ivals                 durRing
	itick                 uint32 // tick of the latest closed interval for window rings
	captured, capturedTot Counts
	evicted               int
	evictBuf              []evictCand
	rankBuf               []ranked
	version               uint64 // changes with every mutation, for caches
	pairs                 []*talker
	pairStore             []talker
	pairIndex             map[pairKey]int
	pairsVersion          uint64
	packets               pktRing
	lastPackets           []capture.PacketSummary
	packetFilter          string           // Batch.PacketFilter of the packets in the ring
	lastSockets           []sampler.Socket // the latest socket table (the sampler does not reuse it)
	facts                 flowFacts        // the open interval's flow facts for the detectors (detect_view.go)
	deadBuf               []*Process       // scratch of forgetExited
}

const numStates = 11 // len(sampler.StateNames)

var stateIndex = func() map[string]int {
	m := make(map[string]int, len(sampler.StateNames))
	for i, n := range sampler.StateNames {
		m[n] = i
	}
	return m
}()

// New returns an empty State.
func New(opts Options) *State {
	if opts.HistoryLen <= 0 {
		opts.HistoryLen = 300
	}
	if opts.GoneTicks <= 0 {
		opts.GoneTicks = 3
	}
	if opts.ReplayName == "" {
		opts.ReplayName = "replay"
	}
	if opts.TalkerCap <= 0 {
		opts.TalkerCap = 65536
	}
	if opts.PacketRing <= 0 {
		opts.PacketRing = 2000
	}
	if opts.PendingRetries <= 0 {
		opts.PendingRetries = 3
	}
	return &State{
		opts:     opts,
		ifaces:   make(map[string]*Iface),
		all:      &Iface{Name: AllInterfaces, Rx: newSeries(opts.HistoryLen), Tx: newSeries(opts.HistoryLen)},
		socks:    make(map[sockKey]*sockAcct),
		gone:     make(map[sockKey]*sockAcct),
		procs:    make(map[int]*Process),
		index:    newSockIndex(),
		talkers:  make(map[tkey]*talker),
		overflow: &talker{Talker: Talker{Proto: OverflowProto}},
		packets:  pktRing{buf: make([]capture.PacketSummary, opts.PacketRing)},
	}
}

// buildIndex indexes a sample's socket table, and keeps it to index again with the
// connected sockets when capture turns on (ApplyBatch).
func (st *State) buildIndex(socks []sampler.Socket) {
	st.lastSockets = socks
	st.index.build(socks, st.CaptureOn())
}

// Apply folds one sample into the state. A regular sample closes the interval: interface,
// process and talker figures of the last interval are the ones it closes (talkers and pcap
// processes use its Elapsed). A refresh sample (s.Refresh) only updates the socket index and
// the processes, and attributes the pending flows it can.
func (st *State) Apply(s *sampler.Sample) {
	if s.Refresh {
		st.touchProcs(s)
		st.buildIndex(s.Sockets)
		st.retryPending(false)
		st.needRefresh = false
		st.version++
		return
	}
	st.tick++
	st.status = s.Status
	st.errors = s.Errors
	if st.start.IsZero() {
		st.start = s.Time.Add(-s.Elapsed)
	}
	st.last = s.Time
	st.elapsed += s.Elapsed
	st.lastEl = s.Elapsed
	st.applyStates(s.Sockets)
	if s.Baseline {
		for i := range s.Sockets {
			sk := &s.Sockets[i]
			if !sk.HasInfo || sk.Cookie == 0 {
				continue
			}
			st.socks[keyOf(sk)] = &sockAcct{acked: sk.BytesAcked, received: sk.BytesReceived, pid: sk.PID, seen: st.tick}
		}
		st.touchProcs(s)
		st.buildIndex(s.Sockets)
		st.retryPending(false)
		st.needRefresh = false
		return
	}
	st.intervals++
	st.applyInterfaces(s.Interfaces, s.Elapsed)
	st.kernel = s.Kernel
	addKernel(&st.kernelTot, &s.Kernel)
	st.applySockets(s)
}

func (st *State) applyStates(socks []sampler.Socket) {
	st.prevStates = st.states
	st.states = [numStates]int{}
	n := 0
	for i := range socks {
		if socks[i].Proto != sampler.ProtoTCP {
			continue
		}
		n++
		if j, ok := stateIndex[socks[i].State.String()]; ok {
			st.states[j]++
		}
	}
	st.sockets = n
}

func (st *State) applyInterfaces(deltas []sampler.IfaceDelta, elapsed time.Duration) {
	for _, f := range st.ifaces {
		f.Present = false
	}
	var rx, tx uint64
	for _, d := range deltas {
		f := st.ifaces[d.Name]
		if f == nil {
			f = &Iface{Name: d.Name, Rx: newSeries(st.opts.HistoryLen), Tx: newSeries(st.opts.HistoryLen)}
			st.ifaces[d.Name] = f
		}
		f.Present = true
		f.Last = d
		f.Rx.add(d.RxBytes, elapsed)
		f.Tx.add(d.TxBytes, elapsed)
		f.RxPackets += d.RxPackets
		f.TxPackets += d.TxPackets
		f.RxErrors += d.RxErrors
		f.TxErrors += d.TxErrors
		f.RxDropped += d.RxDropped
		f.TxDropped += d.TxDropped
		if d.Name != "lo" {
			rx += d.RxBytes
			tx += d.TxBytes
			st.all.RxPackets += d.RxPackets
			st.all.TxPackets += d.TxPackets
		}
	}
	st.all.Present = true
	st.all.Rx.add(rx, elapsed)
	st.all.Tx.add(tx, elapsed)
}

// applySockets updates the processes and the socket index from a regular sample and
// accounts the interval's process bytes: from the talkers when capture is on, from the
// sockets' tcp_info deltas otherwise.
func (st *State) applySockets(s *sampler.Sample) {
	st.unattrib = Counts{}
	for _, p := range st.procs {
		p.RxBytes, p.TxBytes, p.RxRate, p.TxRate = 0, 0, 0, 0
		p.Alive = false
	}
	st.touchProcs(s)
	st.buildIndex(s.Sockets)
	st.retryPending(true)
	st.needRefresh = false
	for i := range s.Sockets {
		sk := &s.Sockets[i]
		if !sk.HasInfo || sk.Cookie == 0 {
			continue
		}
		k := keyOf(sk)
		a := st.socks[k]
		if a == nil {
			if a = st.gone[k]; a != nil {
				delete(st.gone, k)
			} else {
				a = &sockAcct{} // opened since the last dump: all its bytes count
			}
			st.socks[k] = a
		}
		if sk.PID != 0 {
			a.pid = sk.PID
		} else if a.pid == 0 {
			a.pid = st.ownerPID(sk)
		}
		a.seen = st.tick
		st.account(a, sk)
	}
	for k, a := range st.socks {
		if a.seen != st.tick {
			delete(st.socks, k)
			st.gone[k] = a
		}
	}
	for i := range s.Destroyed {
		sk := &s.Destroyed[i]
		if !sk.HasInfo || sk.Cookie == 0 {
			continue
		}
		k := keyOf(sk)
		a := st.socks[k]
		if a != nil {
			delete(st.socks, k)
		} else if a = st.gone[k]; a != nil {
			delete(st.gone, k)
		} else {
			a = &sockAcct{} // opened and closed between two dumps
		}
		if a.pid == 0 {
			a.pid = st.ownerPID(sk)
		}
		st.account(a, sk)
	}
	for k, a := range st.gone {
		if st.tick-a.seen > st.opts.GoneTicks {
			delete(st.gone, k)
		}
	}
	if st.CaptureOn() {
		st.closeTalkers(s.Elapsed)
	}
	secs := s.Elapsed.Seconds()
	for _, p := range st.procs {
		if secs > 0 {
			p.RxRate = float64(p.RxBytes) / secs
			p.TxRate = float64(p.TxBytes) / secs
		}
	}
	st.unattribTot.RxBytes += st.unattrib.RxBytes
	st.unattribTot.TxBytes += st.unattrib.TxBytes
}

// listenerPID returns the process listening on a TCP socket's local address and port: the
// server that accepted it. A short-lived accepted socket (an HTTP request served in a
// millisecond) is often closed before /proc/PID/fd can show whose it was; the listener's
// owner is, for all but servers that pass sockets between processes, the one that served it.
// 0 when there is no such listener, or its owner is unknown too.
func (st *State) listenerPID(sk *sampler.Socket) int {
	if sk.Proto != sampler.ProtoTCP || sk.State == sampler.StateListen {
		return 0
	}
	pid, _ := st.index.boundLookup(uint8(sk.Proto), norm(sk.Local))
	return pid
}

// account adds what the socket's counters grew by since a was last updated.
func (st *State) account(a *sockAcct, sk *sampler.Socket) {
	var tx, rx uint64
	if sk.BytesAcked >= a.acked {
		tx = sk.BytesAcked - a.acked
	}
	if sk.BytesReceived >= a.received {
		rx = sk.BytesReceived - a.received
	}
	a.acked, a.received = sk.BytesAcked, sk.BytesReceived
	if (tx == 0 && rx == 0) || st.CaptureOn() {
		return // with capture, process bytes come from the flows
	}
	p := st.procs[a.pid]
	if a.pid == 0 || p == nil {
		st.unattrib.RxBytes += rx
		st.unattrib.TxBytes += tx
		return
	}
	p.TxBytes += tx
	p.RxBytes += rx
	p.TxTotal += tx
	p.RxTotal += rx
	p.lastActive = st.tick
}

func (st *State) touchProcs(s *sampler.Sample) {
	for pid, sp := range s.Procs {
		p := st.procs[pid]
		if p == nil {
			p = &Process{PID: pid, Source: st.procSource()}
			st.procs[pid] = p
		}
		p.Comm, p.Cmdline, p.Exe, p.User, p.UID = sp.Comm, sp.Cmdline, sp.Exe, sp.User, sp.UID
		p.Container, p.Unit = sp.Container, sp.Unit
		if sp.NetNS != 0 {
			p.NetNS = sp.NetNS
		}
		p.Alive = true
	}
	// forget processes that are gone and moved nothing for a long time, so the map stays bounded
	dead := 0
	for pid, p := range st.procs {
		if !p.Alive && st.tick-p.lastActive > 600 && p.RxTotal+p.TxTotal == 0 {
			delete(st.procs, pid)
		} else if !p.Alive {
			dead++
		}
	}
	if dead > MaxExitedProcesses {
		st.forgetExited(dead - MaxExitedProcesses)
	}
}

// MaxExitedProcesses bounds the processes that are kept after they exit (with their session
// totals, for the summary): with socket events every short-lived process that moved bytes
// (a curl run) has a row. Beyond it, the least recently active exited processes are forgotten.
const MaxExitedProcesses = 4096

// forgetExited forgets the n least recently active processes that are not alive.
func (st *State) forgetExited(n int) {
	dead := st.deadBuf[:0]
	for _, p := range st.procs {
		if !p.Alive {
			dead = append(dead, p)
		}
	}
	slices.SortFunc(dead, func(a, b *Process) int {
		return cmp.Or(cmp.Compare(a.lastActive, b.lastActive), cmp.Compare(a.PID, b.PID))
	})
	for _, p := range dead[:min(n, len(dead))] {
		delete(st.procs, p.PID)
	}
	clear(dead)
	st.deadBuf = dead[:0]
}

func addKernel(dst, d *sampler.KernelTCP) {
	dst.ActiveOpens += d.ActiveOpens
	dst.PassiveOpens += d.PassiveOpens
	dst.AttemptFails += d.AttemptFails
	dst.EstabResets += d.EstabResets
	dst.RetransSegs += d.RetransSegs
	dst.InErrs += d.InErrs
	dst.OutRsts += d.OutRsts
	dst.ListenOverflows += d.ListenOverflows
	dst.ListenDrops += d.ListenDrops
	dst.SyncookiesSent += d.SyncookiesSent
	dst.SyncookiesRecv += d.SyncookiesRecv
	dst.SyncookiesFailed += d.SyncookiesFailed
	dst.TCPReqQFullDrop += d.TCPReqQFullDrop
}

// Time returns the time of the latest sample.
func (st *State) Time() time.Time { return st.last }

// Elapsed returns the time covered by the samples applied so far (the baseline excluded).
func (st *State) Elapsed() time.Duration { return st.elapsed }

// Status returns what the sampler could see in the latest sample.
func (st *State) Status() sampler.Status { return st.status }

// Errors returns the errors of the latest sample's sources.
func (st *State) Errors() []error { return st.errors }

// InterfaceNames returns the interfaces seen so far, sorted, followed by AllInterfaces.
func (st *State) InterfaceNames() []string {
	names := make([]string, 0, len(st.ifaces)+1)
	for n := range st.ifaces {
		names = append(names, n)
	}
	sort.Strings(names)
	return append(names, AllInterfaces)
}

// Interface returns the named interface (or the aggregate for AllInterfaces), nil if unknown.
func (st *State) Interface(name string) *Iface {
	if name == AllInterfaces {
		return st.all
	}
	return st.ifaces[name]
}

// TCPStates returns the TCP state histogram of the latest sample in display order.
func (st *State) TCPStates() []StateCount {
	out := make([]StateCount, len(sampler.StateNames))
	for i, n := range sampler.StateNames {
		out[i] = StateCount{Name: n, Count: st.states[i], Delta: st.states[i] - st.prevStates[i]}
	}
	return out
}

// TCPSockets returns the number of TCP sockets in the latest sample.
func (st *State) TCPSockets() int { return st.sockets }

// Kernel returns the kernel TCP counters of the last interval and of the session.
func (st *State) Kernel() (interval, total sampler.KernelTCP) { return st.kernel, st.kernelTot }

// Unattributed returns the bytes of the last interval and of the session that no process was
// found for.
func (st *State) Unattributed() (interval, total Counts) { return st.unattrib, st.unattribTot }

// ProcessSort selects the order of Processes.
type ProcessSort int

// Orders for Processes: by the rate (or, with cumulative, the total) sent, received, or both.
const (
	SortTotal ProcessSort = iota
	SortSent
	SortReceived
)

// ProcessQuery selects and orders processes.
type ProcessQuery struct {
	Sort       ProcessSort
	Cumulative bool   // order by session totals instead of the last interval
	Filter     string // keep processes whose comm, cmdline, user or pid contain this text
	ActiveOnly bool   // only processes that moved bytes in the last interval
	Limit      int    // 0 means all
	// ByContainer sums the processes of each container into one row (PID 0, Comm the
	// container, Cmdline how many processes); the processes in no container make one
	// row "(host)".
	ByContainer bool
}

// Processes returns copies of the processes that match q, ordered as it asks.
func (st *State) Processes(q ProcessQuery) []Process {
	sel := make([]*Process, 0, len(st.procs))
	for _, p := range st.procs {
		if q.ActiveOnly && p.RxBytes+p.TxBytes == 0 {
			continue
		}
		if !q.ActiveOnly && !p.Alive && p.RxTotal+p.TxTotal == 0 {
			continue
		}
		if q.Filter != "" && !p.matches(q.Filter) {
			continue
		}
		sel = append(sel, p)
	}
	if q.ByContainer {
		sel = byContainer(sel)
	}
	key := func(p *Process) (float64, float64) {
		var rx, tx float64
		if q.Cumulative {
			rx, tx = float64(p.RxTotal), float64(p.TxTotal)
		} else {
			rx, tx = p.RxRate, p.TxRate
		}
		switch q.Sort {
		case SortSent:
			return tx, float64(p.TxTotal)
		case SortReceived:
			return rx, float64(p.RxTotal)
		}
		return rx + tx, float64(p.RxTotal + p.TxTotal)
	}
	// sort pointers, not the 100-byte values: a tenth of the cost with 10,000 processes
	slices.SortFunc(sel, func(a, b *Process) int {
		a1, a2 := key(a)
		b1, b2 := key(b)
		switch {
		case a1 != b1:
			return cmp.Compare(b1, a1)
		case a2 != b2:
			return cmp.Compare(b2, a2)
		}
		return cmp.Compare(a.PID, b.PID)
	})
	if q.Limit > 0 && len(sel) > q.Limit {
		sel = sel[:q.Limit]
	}
	out := make([]Process, len(sel))
	for i, p := range sel {
		out[i] = *p
	}
	return out
}

// byContainer sums processes into one row per container.
func byContainer(procs []*Process) []*Process {
	groups := map[string]*Process{}
	n := map[string]int{}
	var out []*Process
	for _, p := range procs {
		g := groups[p.Container]
		if g == nil {
			name := p.Container
			if name == "" {
				name = "(host)"
			}
			g = &Process{Comm: name, Container: p.Container, Source: p.Source}
			groups[p.Container] = g
			out = append(out, g)
		}
		n[p.Container]++
		g.RxBytes += p.RxBytes
		g.TxBytes += p.TxBytes
		g.RxRate += p.RxRate
		g.TxRate += p.TxRate
		g.RxTotal += p.RxTotal
		g.TxTotal += p.TxTotal
		g.Alive = g.Alive || p.Alive
	}
	for _, g := range out {
		g.Cmdline = g.Comm + " " + strconv.Itoa(n[g.Container]) + " processes"
	}
	return out
}

func (p *Process) matches(text string) bool {
	text = strings.ToLower(text)
	for _, f := range []string{p.Comm, p.Cmdline, p.User, p.Container, p.Unit} {
		if strings.Contains(strings.ToLower(f), text) {
			return true
		}
	}
	return strings.Contains(strconv.Itoa(p.PID), text)
}
