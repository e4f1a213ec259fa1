package sampler

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// Socket events (bpf/sockev.bpf.c, sockev_linux.go) say who owns a socket the moment a
// process takes it: at connect (the record leaves when the handshake ends, before the first
// data byte), at listen, at the first send or receive of a UDP socket. The sampler reads them in a goroutine of its own into an
// OwnerIndex, which the monitor asks when it first sees a flow: a connection that lived a
// millisecond, long gone when the next socket dump runs, still finds its process, and a
// process that has exited keeps its name for the flows it made.

// EventKind says which hook reported a socket.
type EventKind uint8

// The hooks of bpf/sockev.bpf.c.
const (
	EventConnect EventKind = 1 // an active TCP open, owner read at SYN_SENT in connect(2)
	EventListen  EventKind = 2 // listen(2): accepted connections belong to its owner
	EventUDPSend EventKind = 3 // the first send of a UDP socket (or of a new tuple)
	EventUDPRecv EventKind = 4 // the first receive of a UDP socket (or of a new tuple)
)

// String names the hook.
func (k EventKind) String() string {
	switch k {
	case EventConnect:
		return "connect"
	case EventListen:
		return "listen"
	case EventUDPSend:
		return "udp_send"
	case EventUDPRecv:
		return "udp_recv"
	}
	return "unknown"
}

// SockOwner is the process that took a socket, as a socket event reported it.
type SockOwner struct {
	PID    int    // thread group id: the process (in the initial pid namespace)
	TID    int    // the thread that made the call
	Comm   string // the thread's comm at the time of the event
	UID    uint32 // the caller's uid
	User   string // the user name of UID, or the number when it has none
	Cgroup uint64 // cgroup v2 id of the process
	NetNS  uint32 // inode of the socket's network namespace (as in /proc/PID/ns/net)
	// Container and Unit are those of the process's cgroup (see Proc), read when the first
	// event of its cgroup came.
	Container, Unit string
	Cookie          uint64 // kernel socket cookie
	Kind            EventKind
}

// SockEvent is one record of the socket-event ring buffer.
type SockEvent struct {
	Proto  Proto
	Local  netip.AddrPort
	Remote netip.AddrPort // invalid address for an unconnected UDP socket
	Owner  SockOwner
}

// sockEvRecLen is the size of one record (struct event in bpf/sockev.bpf.c).
const sockEvRecLen = 88

// Offsets of the fields of a record.
const (
	offEvCookie = 0
	offEvCgroup = 8
	offEvSaddr  = 16
	offEvDaddr  = 32
	offEvTgid   = 48
	offEvPid    = 52
	offEvUID    = 56
	offEvNetNS  = 60
	offEvSport  = 64
	offEvDport  = 66
	offEvFamily = 68
	offEvProto  = 69
	offEvKind   = 70
	offEvComm   = 72
)

// parseSockEvent decodes one record (native byte order, as the kernel wrote it) into ev,
// except the owner's Comm, which it returns as the raw NUL-padded bytes for the caller to
// intern. A record of the wrong size, family or protocol gives an error wrapping ErrMalformed.
func parseSockEvent(b []byte, ev *SockEvent) (comm [16]byte, err error) {
	if len(b) < sockEvRecLen {
		return comm, fmt.Errorf("socket event: %d bytes, want %d: %w", len(b), sockEvRecLen, ErrMalformed)
	}
	ne := binary.NativeEndian
	ev.Proto = Proto(b[offEvProto])
	if ev.Proto != ProtoTCP && ev.Proto != ProtoUDP {
		return comm, fmt.Errorf("socket event: protocol %d: %w", b[offEvProto], ErrMalformed)
	}
	lport, rport := ne.Uint16(b[offEvSport:]), ne.Uint16(b[offEvDport:])
	var l, r netip.Addr
	switch b[offEvFamily] {
	case linuxAFInet:
		l = netip.AddrFrom4([4]byte(b[offEvSaddr : offEvSaddr+4]))
		r = netip.AddrFrom4([4]byte(b[offEvDaddr : offEvDaddr+4]))
	case linuxAFInet6:
		l = netip.AddrFrom16([16]byte(b[offEvSaddr : offEvSaddr+16])).Unmap()
		r = netip.AddrFrom16([16]byte(b[offEvDaddr : offEvDaddr+16])).Unmap()
	default:
		return comm, fmt.Errorf("socket event: address family %d: %w", b[offEvFamily], ErrMalformed)
	}
	ev.Local = netip.AddrPortFrom(l, lport)
	if rport == 0 && r.IsUnspecified() {
		ev.Remote = netip.AddrPort{}
	} else {
		ev.Remote = netip.AddrPortFrom(r, rport)
	}
	ev.Owner = SockOwner{
		PID:    int(ne.Uint32(b[offEvTgid:])),
		TID:    int(ne.Uint32(b[offEvPid:])),
		UID:    ne.Uint32(b[offEvUID:]),
		Cgroup: ne.Uint64(b[offEvCgroup:]),
		NetNS:  ne.Uint32(b[offEvNetNS:]),
		Cookie: ne.Uint64(b[offEvCookie:]),
		Kind:   EventKind(b[offEvKind]),
	}
	copy(comm[:], b[offEvComm:offEvComm+16])
	return comm, nil
}

// OwnerIndex remembers the owners of the sockets that socket events reported: the last
// Capacity of them, each for at most TTL. It is a ring: a new event takes the slot of the
// oldest, so memory is fixed (about 100 bytes a slot plus the maps' share) whatever the rate
// of connections. It is safe for concurrent use: the event reader adds, the monitor looks up.
type OwnerIndex struct {
	mu      sync.Mutex
	ttl     time.Duration
	now     func() time.Time
	slots   []ownerSlot
	next    int
	conn    slotTable           // hash of the 4-tuple of connected sockets (TCP, connected UDP) -> slot
	bound   slotTable           // hash of the local address of listeners and unconnected UDP -> slot
	cookies slotTable           // hash of the cookie -> slot
	comms   map[[16]byte]string // interned names, bounded by maxComms
	added   uint64
}

const maxComms = 4096

// ownerKey is a socket's tuple in a fixed, comparable form (addresses unmapped, no zone).
type ownerKey struct {
	proto        uint8
	lport, rport uint16
	laddr, raddr [16]byte // As16 of the unmapped address: an IPv4 address is ::ffff:a.b.c.d
}

type ownerSlot struct {
	key   ownerKey
	bound bool
	used  bool
	at    int64 // when it was added, Unix nanoseconds
	owner SockOwner
}

// DefaultOwnerCapacity is the number of socket owners an OwnerIndex keeps by default:
// at 10,000 connections a second, the last 3.3 s (a flow is looked up within one interval
// of its first packet).
const DefaultOwnerCapacity = 32768

// DefaultOwnerTTL is how long an owner is kept at most.
const DefaultOwnerTTL = 10 * time.Minute

// NewOwnerIndex returns an index of capacity slots (DefaultOwnerCapacity if <= 0) whose
// entries expire after ttl (DefaultOwnerTTL if <= 0).
func NewOwnerIndex(capacity int, ttl time.Duration) *OwnerIndex {
	if capacity <= 0 {
		capacity = DefaultOwnerCapacity
	}
	if ttl <= 0 {
		ttl = DefaultOwnerTTL
	}
	return &OwnerIndex{
		ttl: ttl, now: time.Now,
		slots:   make([]ownerSlot, capacity),
		conn:    newSlotTable(capacity),
		bound:   newSlotTable(capacity),
		cookies: newSlotTable(capacity),
		comms:   make(map[[16]byte]string),
	}
}

// hash mixes the key into 64 bits for the maps (the slot keeps the key, which a lookup
// compares: two tuples with one hash only hide the older one).
func (k *ownerKey) hash() uint64 {
	ne := binary.NativeEndian
	h := uint64(k.proto)<<32 | uint64(k.lport)<<16 | uint64(k.rport)
	for _, w := range [4]uint64{ne.Uint64(k.laddr[:8]), ne.Uint64(k.laddr[8:]), ne.Uint64(k.raddr[:8]), ne.Uint64(k.raddr[8:])} {
		h ^= w
		h *= 0x9e3779b97f4a7c15
		h ^= h >> 29
	}
	return h
}

// cookieHash spreads a cookie (a counter) over the table.
func cookieHash(c uint64) uint64 {
	c *= 0x9e3779b97f4a7c15
	return c ^ c>>32
}

func makeOwnerKey(proto uint8, local, remote netip.AddrPort) ownerKey {
	l, r := local.Addr().Unmap(), remote.Addr().Unmap()
	k := ownerKey{proto: proto, lport: local.Port(), rport: remote.Port()}
	if l.IsValid() {
		k.laddr = l.As16()
	}
	if r.IsValid() {
		k.raddr = r.As16()
	}
	return k
}

// intern returns the comm of a record as a string, the same string for the same name.
func (ix *OwnerIndex) intern(comm [16]byte) string {
	if s, ok := ix.comms[comm]; ok {
		return s
	}
	n := 0
	for n < len(comm) && comm[n] != 0 {
		n++
	}
	s := string(comm[:n])
	if len(ix.comms) < maxComms {
		ix.comms[comm] = s
	}
	return s
}

// Add records ev (its Owner.Comm is used as is).
func (ix *OwnerIndex) Add(ev *SockEvent) {
	ix.mu.Lock()
	ix.add(ev)
	ix.mu.Unlock()
}

// addRaw records ev with the comm of a record, interned, and the user name of its uid (users
// caches them; it belongs to the caller, who is the only one to call addRaw).
func (ix *OwnerIndex) addRaw(ev *SockEvent, comm [16]byte, users map[uint32]string) {
	ev.Owner.User = userName(users, ev.Owner.UID)
	ix.mu.Lock()
	ev.Owner.Comm = ix.intern(comm)
	ix.add(ev)
	ix.mu.Unlock()
}

func (ix *OwnerIndex) add(ev *SockEvent) {
	i := int32(ix.next)
	s := &ix.slots[i]
	if s.used {
		ix.forget(i, s)
	}
	bound := !ev.Remote.IsValid() || ev.Remote.Port() == 0
	*s = ownerSlot{key: makeOwnerKey(uint8(ev.Proto), ev.Local, ev.Remote), bound: bound, used: true, at: ix.now().UnixNano(), owner: ev.Owner}
	if bound {
		s.key.raddr, s.key.rport = [16]byte{}, 0
		ix.bound.put(s.key.hash(), i)
	} else {
		ix.conn.put(s.key.hash(), i)
	}
	if c := ev.Owner.Cookie; c != 0 {
		ix.cookies.put(cookieHash(c), i)
	}
	ix.next = (ix.next + 1) % len(ix.slots)
	ix.added++
}

// forget removes the map entries that still point to slot i.
func (ix *OwnerIndex) forget(i int32, s *ownerSlot) {
	if s.bound {
		ix.bound.del(s.key.hash(), i)
	} else {
		ix.conn.del(s.key.hash(), i)
	}
	if c := s.owner.Cookie; c != 0 {
		ix.cookies.del(cookieHash(c), i)
	}
	s.used = false
}

func (ix *OwnerIndex) fresh(m *slotTable, k ownerKey, now int64) (SockOwner, bool) {
	i, ok := m.get(k.hash())
	if !ok {
		return SockOwner{}, false
	}
	s := &ix.slots[i]
	if s.key != k || now-s.at > int64(ix.ttl) {
		return SockOwner{}, false
	}
	return s.owner, true
}

var (
	ownerWild4 = netip.IPv4Unspecified().As16()
	ownerWild6 = [16]byte{}
)

// Lookup returns the owner of the socket of a flow (proto 6 or 17; local is this host's
// side), in the order of the monitor's socket index: the connected socket with this 4-tuple,
// then with the sides swapped (a flow whose orientation was guessed), then a TCP listener or
// unconnected UDP socket bound to the local address and port or to the wildcard, then one
// bound to the remote address and port. IPv4-mapped addresses match their IPv4 form. It
// allocates nothing.
func (ix *OwnerIndex) Lookup(proto uint8, local, remote netip.AddrPort) (SockOwner, bool) {
	k := makeOwnerKey(proto, local, remote)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	now := ix.now().UnixNano()
	if o, ok := ix.fresh(&ix.conn, k, now); ok {
		return o, true
	}
	sw := ownerKey{proto: proto, lport: k.rport, rport: k.lport, laddr: k.raddr, raddr: k.laddr}
	if o, ok := ix.fresh(&ix.conn, sw, now); ok {
		return o, true
	}
	// a listener (TCP) or an unconnected UDP socket on the local side, then on the remote
	// side for a flow whose orientation was guessed
	b := ownerKey{proto: proto, lport: k.lport, laddr: k.laddr}
	if o, ok := ix.fresh(&ix.bound, b, now); ok {
		return o, true
	}
	if local.Addr().Unmap().Is4() {
		b.laddr = ownerWild4
		if o, ok := ix.fresh(&ix.bound, b, now); ok {
			return o, true
		}
	}
	// a dual-stack socket bound to :: receives IPv4 too
	b.laddr = ownerWild6
	if o, ok := ix.fresh(&ix.bound, b, now); ok {
		return o, true
	}
	b = ownerKey{proto: proto, lport: k.rport, laddr: k.raddr}
	if o, ok := ix.fresh(&ix.bound, b, now); ok {
		return o, true
	}
	return SockOwner{}, false
}

// LookupCookie returns the owner of the socket with this kernel cookie.
func (ix *OwnerIndex) LookupCookie(cookie uint64) (SockOwner, bool) {
	if cookie == 0 {
		return SockOwner{}, false
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	i, ok := ix.cookies.get(cookieHash(cookie))
	if !ok {
		return SockOwner{}, false
	}
	s := &ix.slots[i]
	if s.owner.Cookie != cookie || ix.now().UnixNano()-s.at > int64(ix.ttl) {
		return SockOwner{}, false
	}
	return s.owner, true
}

// Len returns the number of owners held (at most the capacity).
func (ix *OwnerIndex) Len() int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.added >= uint64(len(ix.slots)) {
		return len(ix.slots)
	}
	return int(ix.added)
}
