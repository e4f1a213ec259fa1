package sampler

import (
	"net/netip"
	"time"
)

// Proto is a transport protocol of a socket.
type Proto uint8

// Transport protocols of the socket table.
const (
	ProtoTCP Proto = 6
	ProtoUDP Proto = 17
)

// String returns "tcp" or "udp".
func (p Proto) String() string {
	switch p {
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	}
	return "unknown"
}

// TCPState is a kernel socket state (include/net/tcp_states.h).
type TCPState uint8

// Kernel socket states, numbered as in include/net/tcp_states.h.
const (
	StateEstablished TCPState = 1
	StateSynSent     TCPState = 2
	StateSynRecv     TCPState = 3
	StateFinWait1    TCPState = 4
	StateFinWait2    TCPState = 5
	StateTimeWait    TCPState = 6
	StateClose       TCPState = 7
	StateCloseWait   TCPState = 8
	StateLastAck     TCPState = 9
	StateListen      TCPState = 10
	StateClosing     TCPState = 11
	StateNewSynRecv  TCPState = 12 // request socket; ss prints it as SYN-RECV
)

// StateNames lists the TCP state names in display order, as ss prints them
// (except CLOSE, which ss prints as UNCONN).
var StateNames = []string{
	"ESTAB", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT",
	"CLOSE", "CLOSE-WAIT", "LAST-ACK", "LISTEN", "CLOSING",
}

// String returns the state's name as ss prints it: ESTAB, SYN-RECV, CLOSE-WAIT, ...
func (s TCPState) String() string {
	switch s {
	case StateEstablished:
		return "ESTAB"
	case StateSynSent:
		return "SYN-SENT"
	case StateSynRecv, StateNewSynRecv:
		return "SYN-RECV"
	case StateFinWait1:
		return "FIN-WAIT-1"
	case StateFinWait2:
		return "FIN-WAIT-2"
	case StateTimeWait:
		return "TIME-WAIT"
	case StateClose:
		return "CLOSE"
	case StateCloseWait:
		return "CLOSE-WAIT"
	case StateLastAck:
		return "LAST-ACK"
	case StateListen:
		return "LISTEN"
	case StateClosing:
		return "CLOSING"
	}
	return "UNKNOWN"
}

// IfaceCounters are the absolute counters of one interface as /proc/net/dev shows them.
type IfaceCounters struct {
	Name                                    string
	RxBytes, RxPackets, RxErrors, RxDropped uint64
	TxBytes, TxPackets, TxErrors, TxDropped uint64
}

// IfaceDelta holds what one interface counted during an interval: the difference of two
// IfaceCounters, corrected for counter wrap and reset.
type IfaceDelta struct {
	Name      string
	RxBytes   uint64 // bytes received in the interval
	RxPackets uint64 // packets received in the interval
	RxErrors  uint64 // receive errors in the interval
	RxDropped uint64 // received packets dropped in the interval
	TxBytes   uint64 // bytes sent in the interval
	TxPackets uint64 // packets sent in the interval
	TxErrors  uint64 // transmit errors in the interval
	TxDropped uint64 // packets dropped on transmit in the interval
}

// Socket is one row of the socket table.
type Socket struct {
	Proto  Proto
	State  TCPState // for UDP: StateClose when unconnected, StateEstablished when connected
	Local  netip.AddrPort
	Remote netip.AddrPort
	Inode  uint64 // 0 for TIME-WAIT, request and orphaned sockets
	UID    uint32 // owner's uid; 0 (not meaning root) for TIME-WAIT and request sockets
	RecvQ  uint32 // bytes in the receive queue (backlog length for LISTEN)
	SendQ  uint32 // bytes in the send queue (backlog limit for LISTEN, from sock_diag; 0 from /proc)
	Cookie uint64 // kernel socket cookie, stable for the socket's life; 0 when read from /proc

	HasInfo bool // the tcp_info counters below are present (sock_diag, TCP, not TIME-WAIT)
	// BytesAcked is tcp_info bytes_acked: bytes sent and acknowledged by the peer. The kernel
	// counts one more for the connecting side's SYN and one for each FIN (tcp_snd_una_update).
	BytesAcked uint64
	// BytesReceived is tcp_info bytes_received: bytes received in order, plus one for a FIN
	// (tcp_rcv_nxt_update).
	BytesReceived uint64

	// PID is the owning process, resolved through /proc/PID/fd; 0 when unknown. Of several
	// holders, the lowest pid that has the socket as fd 0 or 1, else the lowest pid.
	PID int
	// Stdio says the owning process holds this (established TCP) socket as its standard
	// input or output, fd 0 or 1 (sampler/stdio.go).
	Stdio bool
}

// Proc is a process that owns sockets.
type Proc struct {
	PID     int
	Comm    string // /proc/PID/comm
	Cmdline string // /proc/PID/cmdline, NULs replaced by spaces
	Exe     string // the target of /proc/PID/exe ("" when it cannot be read: a kernel thread, or no permission)
	UID     uint32 // real uid
	User    string // user name of UID, or the number when it has none
	// Container is the container the process runs in, "runtime:ID" (docker, podman,
	// containerd, crio, lxc), from its cgroup path; "" for none.
	Container string
	Unit      string // the systemd unit (*.service, else *.scope) of its cgroup; "" for none
	NetNS     uint32 // inode of its network namespace (/proc/PID/ns/net); 0 when unreadable
}

// KernelTCP holds the kernel's TCP counters from /proc/net/snmp (Tcp:) and
// /proc/net/netstat (TcpExt:). In a Sample they are deltas over the interval.
type KernelTCP struct {
	ActiveOpens      uint64 // Tcp: ActiveOpens, connections started by connect()
	PassiveOpens     uint64 // Tcp: PassiveOpens, connections accepted
	AttemptFails     uint64 // Tcp: AttemptFails
	EstabResets      uint64 // Tcp: EstabResets
	RetransSegs      uint64 // Tcp: RetransSegs
	InErrs           uint64 // Tcp: InErrs
	OutRsts          uint64 // Tcp: OutRsts
	ListenOverflows  uint64 // TcpExt: ListenOverflows, accept queue full
	ListenDrops      uint64 // TcpExt: ListenDrops
	SyncookiesSent   uint64 // TcpExt: SyncookiesSent
	SyncookiesRecv   uint64 // TcpExt: SyncookiesRecv
	SyncookiesFailed uint64 // TcpExt: SyncookiesFailed
	TCPReqQFullDrop  uint64 // TcpExt: TCPReqQFullDrop, SYNs dropped because the SYN queue was full
}

// Status says what the sampler can and cannot see.
type Status struct {
	SocketSource  string // "bpf_iter" (TCP from the BPF iterator, UDP from sock_diag), "sock_diag", or "proc" (no byte counters)
	DestroyEvents bool   // sock_diag socket-destroy events are received
	AllProcesses  bool   // every process's /proc/PID/fd was readable in the last walk
	// ProcessSource is how sockets are joined to processes: ProcessFromSockEvents (BPF socket
	// events, with /proc/PID/fd for sockets opened before the start) or ProcessFromProcFD
	// (the socket table and /proc/PID/fd only).
	ProcessSource string
	// SockEvents counts the socket events of the session (with ProcessFromSockEvents).
	SockEvents SockEventStats
	// ProcessScope is whose processes sockets can be attributed to: "all"; "partial" (running
	// as root, but some processes hide their fds, e.g. ones holding capabilities this one
	// lacks); or "own-uid" (unprivileged: only processes of the same user).
	ProcessScope string
	Notes        []string
}

// How sockets are joined to processes (Status.ProcessSource).
const (
	// ProcessFromSockEvents: BPF programs report the owner of each socket as a process
	// takes it (bpf/sockev.bpf.c), so connections that close between two dumps are
	// attributed, and exited processes keep their names; the socket table and /proc/PID/fd
	// serve for sockets opened before wiretop started.
	ProcessFromSockEvents = "sock_events"
	// ProcessFromProcFD: the socket table's inodes looked up in /proc/PID/fd, once per
	// sample and on refresh requests.
	ProcessFromProcFD = "proc_fd"
)

// SockEventStats counts socket events over the session.
type SockEventStats struct {
	Received uint64 // events read from the ring buffer
	Lost     uint64 // events the kernel could not queue because the ring buffer was full
	Owners   int    // socket owners held in the index now (bounded by Options.OwnerCapacity)
}

// ByteCounters reports whether the socket table carries tcp_info's byte counters, from which
// TCP bytes per process are counted without capture: from the BPF iterator and sock_diag.
func (s Status) ByteCounters() bool {
	return s.SocketSource == "bpf_iter" || s.SocketSource == "sock_diag"
}

// Sample is what the sampler sends once per interval.
type Sample struct {
	Time     time.Time
	Elapsed  time.Duration // time since the previous sample; 0 for the baseline
	Baseline bool          // the first sample, taken at start-up: no deltas, its sockets are the baseline
	// Refresh marks an extra sample sent between two regular ones in answer to
	// Sampler.RequestRefresh: it holds the socket table, its processes and the status only
	// (no interface, kernel or destroy deltas, Elapsed 0). The next regular sample's deltas
	// still cover its whole interval. A consumer updates its socket index from it and
	// closes no interval.
	Refresh bool

	Interfaces []IfaceDelta // counter deltas of the interval, by interface name
	Sockets    []Socket     // the socket table at Time
	Destroyed  []Socket     // sockets destroyed since the previous sample, with their final tcp_info
	Procs      map[int]*Proc
	Kernel     KernelTCP // deltas of the interval

	Status Status
	Errors []error // sources that failed this tick; the rest of the sample is valid
}
