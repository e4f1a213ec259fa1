package monitor

import (
	"net/netip"

	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/sampler"
)

// The socket index joins captured flows to processes (DESIGN.md, "Attribution of traffic to
// processes"). It is rebuilt from every sample's socket table (regular, baseline and refresh).
//
// A flow (capture.FlowKey, Local is this host's side) is looked up in this order:
//  1. a connected socket with the same protocol and 4-tuple (local, remote);
//  2. the same with the sides swapped, for flows whose orientation was guessed (both
//     endpoints on this host, as on loopback, or a replay without local addresses);
//  3. a listener or unconnected UDP socket bound to the flow's local address and port, then
//     to the wildcard 0.0.0.0 (IPv4 flows) and :: (IPv4 and IPv6 flows: a dual-stack socket);
//  4. a listener or unconnected UDP socket bound to the remote address and port exactly.
//
// Addresses are compared without zones and with IPv4-mapped IPv6 addresses (::ffff:a.b.c.d,
// as a dual-stack socket shows an IPv4 peer) unmapped, so both forms meet.
//
// A connected socket without a process (TIME-WAIT, or an owner whose fds cannot be read)
// falls back to the listener of its local port (the server that accepted it) and otherwise
// resolves the flow as known but unattributed: a refresh would not find more.
type sockIndex struct {
	conn  map[connKey]int  // connected sockets -> pid (0: no process)
	bound map[boundKey]int // listeners and unconnected UDP -> pid (0: no process)
	built bool             // a table was indexed: lookups can be trusted
}

type connKey struct {
	proto         uint8
	local, remote netip.AddrPort
}

type boundKey struct {
	proto uint8
	local netip.AddrPort
}

var (
	wild4 = netip.IPv4Unspecified()
	wild6 = netip.IPv6Unspecified()
)

func newSockIndex() sockIndex {
	return sockIndex{conn: make(map[connKey]int), bound: make(map[boundKey]int)}
}

// norm unmaps an IPv4-mapped IPv6 address and drops the zone.
func norm(ap netip.AddrPort) netip.AddrPort {
	a := ap.Addr()
	if a.Is4In6() {
		a = a.Unmap()
	} else if a.Zone() != "" {
		a = a.WithZone("")
	}
	return netip.AddrPortFrom(a, ap.Port())
}

// build replaces the index with the sockets of one table.
// Connected sockets are indexed only with conns: they join flows to processes, which only
// capture needs; listeners are always indexed (they also credit accepted sockets whose owner
// was not read, see State.listenerPID).
func (ix *sockIndex) build(socks []sampler.Socket, conns bool) {
	clear(ix.conn)
	clear(ix.bound)
	ix.built = true
	for i := range socks {
		s := &socks[i]
		proto := uint8(s.Proto)
		local := norm(s.Local)
		remote := norm(s.Remote)
		connected := remote.Port() != 0 && remote.Addr().IsValid() && !remote.Addr().IsUnspecified()
		switch {
		case s.Proto == sampler.ProtoTCP && s.State == sampler.StateListen,
			s.Proto == sampler.ProtoUDP && !connected:
			k := boundKey{proto, local}
			if pid, ok := ix.bound[k]; !ok || pid == 0 {
				ix.bound[k] = s.PID // SO_REUSEPORT: the first socket with a process wins
			}
		case connected && conns:
			k := connKey{proto, local, remote}
			if pid, ok := ix.conn[k]; !ok || pid == 0 {
				ix.conn[k] = s.PID
			}
		}
	}
}

// lookup returns the pid of the flow's socket and whether a socket was found at all (pid 0
// with found true: a socket without a process).
func (ix *sockIndex) lookup(k capture.FlowKey) (pid int, found bool) {
	local, remote := norm(k.Local), norm(k.Remote)
	connPID, connFound := 0, false
	if p, ok := ix.conn[connKey{k.Proto, local, remote}]; ok {
		connPID, connFound = p, true
	} else if p, ok := ix.conn[connKey{k.Proto, remote, local}]; ok {
		connPID, connFound = p, true
	}
	if connPID != 0 {
		return connPID, true
	}
	if p, ok := ix.boundLookup(k.Proto, local); ok && (p != 0 || !connFound) {
		return p, true
	}
	if p, ok := ix.bound[boundKey{k.Proto, remote}]; ok && (p != 0 || !connFound) {
		return p, true
	}
	return 0, connFound
}

// connPID returns the process of the connected socket of the flow (either orientation), 0
// when there is none or it has no process.
func (ix *sockIndex) connPID(k capture.FlowKey) int {
	local, remote := norm(k.Local), norm(k.Remote)
	if p := ix.conn[connKey{k.Proto, local, remote}]; p != 0 {
		return p
	}
	return ix.conn[connKey{k.Proto, remote, local}]
}

// boundLookup finds a listener or unconnected UDP socket for local: exact, then wildcards.
func (ix *sockIndex) boundLookup(proto uint8, local netip.AddrPort) (int, bool) {
	if p, ok := ix.bound[boundKey{proto, local}]; ok {
		return p, true
	}
	port := local.Port()
	if local.Addr().Is4() {
		if p, ok := ix.bound[boundKey{proto, netip.AddrPortFrom(wild4, port)}]; ok {
			return p, true
		}
	}
	if p, ok := ix.bound[boundKey{proto, netip.AddrPortFrom(wild6, port)}]; ok {
		return p, true
	}
	return 0, false
}

// attribution is where a talker stands in being joined to a process.
type attribution uint8

const (
	attrNone     attribution = iota // not looked up (replay, overflow): unattributed
	attrPending                     // looked up and missed: retried after the next socket tables
	attrResolved                    // found a socket (pid may be 0: no process)
	attrUnknown                     // missed every retry: unattributed for good
)

// OwnerLookup finds the process that took a socket, from socket events: it is
// sampler.OwnerIndex (Sampler.Owners). It must be safe to call while another goroutine adds
// to it, and allocate nothing.
type OwnerLookup interface {
	// Lookup finds the owner of a flow's socket (proto 6 or 17, local is this host's side).
	Lookup(proto uint8, local, remote netip.AddrPort) (sampler.SockOwner, bool)
	// LookupCookie finds the owner of the socket with this kernel cookie.
	LookupCookie(cookie uint64) (sampler.SockOwner, bool)
}

// find looks a flow up: first a connected socket of the latest table whose process is known
// (it holds the socket now: a socket passed to a child, a shell on a connection's stdio, is
// the holder's), then the socket events (who took the socket: a connection that closed
// before any dump, a process that has exited), then the rest of the table (listeners,
// unconnected UDP, sockets without a process). found false: nothing knows the flow yet.
func (st *State) find(k capture.FlowKey) (pid int, found bool) {
	if st.index.built {
		if pid := st.index.connPID(k); pid != 0 {
			return pid, true
		}
	}
	if st.opts.Owners != nil {
		if o, ok := st.opts.Owners.Lookup(k.Proto, k.Local, k.Remote); ok && o.PID != 0 {
			st.noteOwner(&o)
			return o.PID, true
		}
	}
	if st.index.built {
		return st.index.lookup(k)
	}
	return 0, false
}

// noteOwner makes sure the process of a socket event has a row: an event often comes from a
// process that has exited by the next sample (curl), whose name then comes from the event.
func (st *State) noteOwner(o *sampler.SockOwner) {
	if p := st.procs[o.PID]; p != nil {
		return
	}
	st.procs[o.PID] = &Process{PID: o.PID, Comm: o.Comm, UID: o.UID, User: o.User, Source: st.procSource(),
		Container: o.Container, Unit: o.Unit, NetNS: o.NetNS, lastActive: st.tick}
	st.version++
}

// ownerPID returns the process of a socket of the table that has none (it closed before its
// owner was read, or it is TIME-WAIT): the one that took it, from the socket events, else
// the listener's (listenerPID).
func (st *State) ownerPID(sk *sampler.Socket) int {
	if st.opts.Owners != nil {
		if o, ok := st.opts.Owners.LookupCookie(sk.Cookie); ok && o.PID != 0 {
			st.noteOwner(&o)
			return o.PID
		}
	}
	return st.listenerPID(sk)
}

// attribute looks a new talker up in the index and the socket events, or marks it pending.
func (st *State) attribute(t *talker) {
	if st.opts.Replay {
		return
	}
	if pid, ok := st.find(t.Key); ok {
		st.resolve(t, pid)
		return
	}
	t.attr = attrPending
	t.retries = 0
	st.pending = append(st.pending, t)
	st.needRefresh = true
}

func (st *State) resolve(t *talker, pid int) {
	t.attr = attrResolved
	t.PID = pid
	if p := st.procs[pid]; pid != 0 && p != nil {
		t.Comm = p.Comm
	}
	t.search = ""
	st.version++
}

// retryPending looks the pending talkers up again after a new socket table. regular counts
// the attempt against Options.PendingRetries; past it a talker stays unattributed.
func (st *State) retryPending(regular bool) {
	keep := st.pending[:0]
	for _, t := range st.pending {
		if t.attr != attrPending || t.evicted {
			continue
		}
		if pid, ok := st.find(t.Key); ok {
			st.resolve(t, pid)
			continue
		}
		if regular {
			t.retries++
			if t.retries > st.opts.PendingRetries {
				t.attr = attrUnknown
				continue
			}
		}
		keep = append(keep, t)
	}
	clear(st.pending[len(keep):])
	st.pending = keep
}

// NeedRefresh reports whether flows first seen since the latest socket table missed the
// index: the owner should call sampler.Sampler.RequestRefresh (which rate-limits). It turns
// false when the next sample (refresh or regular) is applied.
func (st *State) NeedRefresh() bool { return st.needRefresh && len(st.pending) > 0 }

// Pending returns the number of flows waiting for a socket table to be attributed.
func (st *State) Pending() int { return len(st.pending) }
