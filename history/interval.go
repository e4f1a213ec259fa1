package history

import "time"

// Interval is what one closed monitor interval adds to the history: deltas only.
type Interval struct {
	End     time.Time     // wall clock at the end of the interval
	Elapsed time.Duration // its length (monotonic)

	Ifaces []IfaceDelta
	Procs  []Usage // A = comm, B = executable path, C = user
	Hosts  []Usage // A = remote address
	Ports  []Usage // A = protocol, B = port

	TCP    []StateCount // sockets per TCP state at the end of the interval
	Kernel []Counter    // deltas of the kernel's TCP counters
}

// IfaceDelta is one interface's counters over an interval.
type IfaceDelta struct {
	Name                 string
	RxBytes, TxBytes     uint64
	RxPackets, TxPackets uint64
	RxErrors, TxErrors   uint64
	RxDrops, TxDrops     uint64
}

// Usage is the bytes of one process, host or port over an interval (or a bucket).
type Usage struct {
	A, B, C string
	Rx, Tx  uint64 // bytes received and sent
}

// StateCount is the number of TCP sockets in one state.
type StateCount struct {
	State string
	Count int
}

// Counter is one named counter's delta.
type Counter struct {
	Name  string
	Value uint64
}

// Other is the key (in A) of the row that holds what the top N leaves out.
const Other = "(other)"

// Category names, as stored in keys.cat.
const (
	CatIface = "iface"
	CatProc  = "proc"
	CatHost  = "host"
	CatPort  = "port"
)
