package sampler

// The sampler's sources, as SourceError names them: the interface counters
// (/proc/net/dev), the kernel TCP counters (/proc/net/snmp and /proc/net/netstat) and the
// socket table (the BPF iterator, sock_diag or /proc/net/tcp*).
const (
	SourceNetDev    = "netdev"
	SourceKernelTCP = "kernel_tcp"
	SourceSockets   = "sockets"
)

// Sources lists the sampler's sources in the order they are read.
var Sources = []string{SourceNetDev, SourceKernelTCP, SourceSockets}

// SourceError is the failure of one source in one tick (Sample.Errors holds them); its text
// is the underlying error's.
type SourceError struct {
	Source string // SourceNetDev, SourceKernelTCP or SourceSockets
	Err    error
}

func (e *SourceError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *SourceError) Unwrap() error { return e.Err }
