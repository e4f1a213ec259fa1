package monitor

import (
	"net/netip"
	"slices"
	"time"

	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/sampler"
)

// MaxFlowFacts bounds the flow facts kept per interval (DetectView.Flows): under a spoofed
// flood every packet is a new flow, and the detectors need counts, not every flow. The
// flows beyond it are counted in DetectView.FlowFactsDropped.
const MaxFlowFacts = 65536

// FlowFact is what one flow's packets said in an interval, for the detectors: a flow that
// began, ended or failed in it (a SYN, FIN or RST was seen, or an ICMP port unreachable
// about it). Long transfers in their middle are not facts.
type FlowFact struct {
	Key       capture.FlowKey
	Handshake uint16 // capture.Hs* bits since the flow entered the capture's table
	Flags     uint8  // TCP flags seen in the interval
	RxBytes   uint64 // bytes towards Key.Local in the interval
	TxBytes   uint64 // bytes from Key.Local in the interval
	RxTotal   uint64 // bytes towards Key.Local over the flow's life so far (before this interval)
	TxTotal   uint64 // bytes from Key.Local over the flow's life so far (before this interval)
	First     time.Time
	Last      time.Time
	// Flows is the number of flows the fact stands for when it is an aggregate row
	// (capture.FlowDelta.Flows: a victim's SYNs from sources not given a row each); 0 for
	// one flow.
	Flows      uint64
	FlowsAcked uint64 // of Flows, the handshakes completed (capture.FlowDelta.FlowsAcked)
	PID        int    // the local process, 0 when unknown
	Comm       string // its comm
	talker     *talker
}

// Listener is a listening socket (TCP LISTEN, or an unconnected UDP socket bound to a port).
type Listener struct {
	Proto string // "tcp" or "udp"
	Local netip.AddrPort
	PID   int
	Comm  string
}

// ProcConns are the TCP states of one process's sockets.
type ProcConns struct {
	PID                       int
	Comm                      string
	Estab, CloseWait, SynSent int
}

// StdioConn is a TCP connection that its process holds as its stdin or stdout.
type StdioConn struct {
	PID           int
	Comm, Cmdline string
	User          string
	Local, Remote netip.AddrPort
}

// RemoteBytes is what the captured flows carried to and from one remote address in the
// interval, with the local process that sent it the most.
type RemoteBytes struct {
	Remote           netip.Addr
	RxBytes, TxBytes uint64 // towards the local side, from it
	PID              int    // the process of the flow with the most bytes sent to Remote; 0 when unknown
	Comm             string
	topTx            uint64
}

// DetectView is what the detectors see of one closed interval (detect.View): interface
// counters, TCP states, the kernel's TCP counters, listeners, connections per process,
// sockets held as a process's stdio, capture statistics and the interval's flow facts.
type DetectView struct {
	Time    time.Time     // end of the interval
	Elapsed time.Duration // its length
	Start   time.Time     // when the run started (the first sample or batch)

	Ifaces    []sampler.IfaceDelta // counter deltas of the interval, present interfaces only
	TCPStates map[string]int       // ss names -> sockets in that state now
	Kernel    sampler.KernelTCP    // kernel TCP counter deltas of the interval
	Sockets   bool                 // a socket table was sampled (false in a replay)

	Listeners []Listener
	Procs     []ProcConns // processes with at least one TCP socket
	Stdio     []StdioConn

	Capture             bool   // packets are captured
	CapReceived         uint64 // packets the capture received in the interval
	CapDropped          uint64 // packets dropped by the kernel (capture buffer full) in the interval
	CapIfDropped        uint64 // packets dropped by the interface in the interval
	Flows               []FlowFact
	FlowFactsDropped    int           // flow facts beyond MaxFlowFacts
	FlowOverflowPackets uint64        // packets of flows that found the capture's flow table full (Batch.Overflow): in no fact
	Remotes             []RemoteBytes // bytes per remote address in the interval (captured flows; at most MaxRemotes)
	RemotesDropped      int           // remote addresses beyond MaxRemotes

	Baselines Baselines // nil without history (set by the caller, not by the State)
}

// flowFacts are the facts of the open interval (ApplyBatch appends, DetectView reads).
type flowFacts struct {
	ivl      int // State.intervals when they were collected
	list     []FlowFact
	dropped  int
	overflow uint64        // packets of the batches' Overflow
	prevCap  capture.Stats // capture stats at the previous DetectView
}

// noteFact keeps a flow delta that is a fact (see FlowFact) for the interval's view.
func (st *State) noteFact(d *capture.FlowDelta, t *talker) {
	f := st.openFacts()
	const events = 0x07 // FIN, SYN, RST
	if d.Flags&events == 0 && d.Handshake&(capture.HsUnreachIn|capture.HsUnreachOut) == 0 {
		return
	}
	if len(f.list) >= MaxFlowFacts {
		f.dropped++
		return
	}
	ff := FlowFact{Key: d.Key, Handshake: d.Handshake, Flags: d.Flags, RxBytes: d.RxBytes, TxBytes: d.TxBytes,
		First: d.First, Last: d.Last, Flows: d.Flows, FlowsAcked: d.FlowsAcked, talker: t}
	if t != nil && t != st.overflow {
		ff.RxTotal, ff.TxTotal = t.RxTotal, t.TxTotal
	}
	f.list = append(f.list, ff)
}

// openFacts returns the facts of the open interval, emptied when they are an older one's.
func (st *State) openFacts() *flowFacts {
	f := &st.facts
	if f.ivl != st.intervals {
		f.ivl, f.list, f.dropped, f.overflow = st.intervals, f.list[:0], 0, 0
	}
	return f
}

// DetectView fills v with the interval that was just closed (by Apply, or by a replayed
// ApplyBatch). It reuses v's slices; call it once per interval.
func (st *State) DetectView(v *DetectView) {
	*v = DetectView{
		Time: st.last, Elapsed: st.lastEl, Start: st.start, Kernel: st.kernel,
		Ifaces: v.Ifaces[:0], Listeners: v.Listeners[:0], Procs: v.Procs[:0], Stdio: v.Stdio[:0], Flows: v.Flows[:0], Remotes: v.Remotes[:0],
		TCPStates: v.TCPStates, Capture: st.CaptureOn(), Baselines: v.Baselines,
	}
	if v.TCPStates == nil {
		v.TCPStates = make(map[string]int, numStates)
	}
	for i, n := range sampler.StateNames {
		v.TCPStates[n] = st.states[i]
	}
	for _, name := range st.InterfaceNames() {
		if f := st.ifaces[name]; f != nil && f.Present {
			v.Ifaces = append(v.Ifaces, f.Last)
		}
	}
	if st.lastSockets != nil {
		v.Sockets = true
	}
	st.socketView(v)
	f := &st.facts
	if f.ivl == st.intervals-1 {
		// The facts become the view's, in place, and the view's old slice collects the next
		// interval's: two slices reused in turn, nothing copied.
		v.Flows, f.list = f.list, v.Flows[:0]
		for i := range v.Flows {
			ff := &v.Flows[i]
			if t := ff.talker; t != nil {
				ff.PID, ff.Comm = t.PID, t.Comm
			}
			ff.talker = nil
		}
		v.FlowFactsDropped, v.FlowOverflowPackets = f.dropped, f.overflow
	}
	st.remoteView(v)
	s := st.cap.Stats
	if s.Received >= f.prevCap.Received {
		v.CapReceived = s.Received - f.prevCap.Received
	}
	if s.Dropped >= f.prevCap.Dropped {
		v.CapDropped = s.Dropped - f.prevCap.Dropped
	}
	if s.IfDropped >= f.prevCap.IfDropped {
		v.CapIfDropped = s.IfDropped - f.prevCap.IfDropped
	}
	f.prevCap = s
}

// MaxRemotes bounds DetectView.Remotes: under a spoofed flood every packet is a new remote
// address; the ones beyond it are counted in DetectView.RemotesDropped.
const MaxRemotes = 65536

// remoteView sums the talkers that moved bytes in the interval just closed per remote
// address (the overflow row, which has none, is left out).
func (st *State) remoteView(v *DetectView) {
	n := min(len(st.prevTouched), MaxRemotes)
	if st.remoteIdx == nil || n > st.remoteRoom {
		// sized once for the most remotes an interval may bring, not grown entry by entry
		st.remoteIdx, st.remoteRoom = make(map[netip.Addr]int, n), n
	}
	clear(st.remoteIdx)
	v.Remotes = slices.Grow(v.Remotes, n)
	for _, t := range st.prevTouched {
		if t == st.overflow || t.Aggregate || t.RxBytes+t.TxBytes == 0 { // an aggregate's remote is no address
			continue
		}
		a := t.Key.Remote.Addr()
		i, ok := st.remoteIdx[a]
		if !ok {
			if len(v.Remotes) >= MaxRemotes {
				v.RemotesDropped++
				continue
			}
			i = len(v.Remotes)
			st.remoteIdx[a] = i
			v.Remotes = append(v.Remotes, RemoteBytes{Remote: a})
		}
		r := &v.Remotes[i]
		r.RxBytes += t.RxBytes
		r.TxBytes += t.TxBytes
		if t.TxBytes > r.topTx && t.attr == attrResolved && t.PID != 0 {
			r.topTx, r.PID, r.Comm = t.TxBytes, t.PID, t.Comm
		}
	}
}

// socketView adds the listeners, the TCP states per process and the stdio connections of
// the latest socket table.
func (st *State) socketView(v *DetectView) {
	byPID := map[int]int{} // pid -> index in v.Procs
	for i := range st.lastSockets {
		sk := &st.lastSockets[i]
		comm := ""
		if p := st.procs[sk.PID]; p != nil {
			comm = p.Comm
		}
		switch {
		case sk.Proto == sampler.ProtoTCP && sk.State == sampler.StateListen:
			v.Listeners = append(v.Listeners, Listener{Proto: "tcp", Local: sk.Local, PID: sk.PID, Comm: comm})
			continue
		case sk.Proto == sampler.ProtoUDP && sk.State == sampler.StateClose && sk.Local.Port() != 0 && !sk.Remote.Addr().IsValid():
			v.Listeners = append(v.Listeners, Listener{Proto: "udp", Local: sk.Local, PID: sk.PID, Comm: comm})
			continue
		case sk.Proto == sampler.ProtoUDP && sk.State == sampler.StateClose && sk.Local.Port() != 0 && sk.Remote.Addr().IsUnspecified():
			v.Listeners = append(v.Listeners, Listener{Proto: "udp", Local: sk.Local, PID: sk.PID, Comm: comm})
			continue
		}
		if sk.Proto != sampler.ProtoTCP || sk.PID == 0 {
			continue
		}
		j, ok := byPID[sk.PID]
		if !ok {
			j = len(v.Procs)
			byPID[sk.PID] = j
			v.Procs = append(v.Procs, ProcConns{PID: sk.PID, Comm: comm})
		}
		switch sk.State {
		case sampler.StateEstablished:
			v.Procs[j].Estab++
		case sampler.StateCloseWait:
			v.Procs[j].CloseWait++
		case sampler.StateSynSent:
			v.Procs[j].SynSent++
		}
		if sk.Stdio {
			sc := StdioConn{PID: sk.PID, Comm: comm, Local: sk.Local, Remote: sk.Remote}
			if p := st.procs[sk.PID]; p != nil {
				sc.Cmdline, sc.User = p.Cmdline, p.User
			}
			v.Stdio = append(v.Stdio, sc)
		}
	}
}
