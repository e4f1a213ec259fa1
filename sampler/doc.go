// Package sampler reads the kernel's view of the network without touching packets:
// interface counters from /proc/net/dev, the socket table from sock_diag (NETLINK_INET_DIAG)
// or /proc/net/{tcp,tcp6,udp,udp6}, the inode -> process map from /proc/PID/fd, and the
// kernel TCP counters from /proc/net/snmp and /proc/net/netstat.
//
// Where the process may load BPF programs (root, or CAP_BPF and CAP_PERFMON, on a kernel
// with BTF), TCP sockets come from a BPF iterator instead (bpf/tcpiter.bpf.c, tcpiter.go):
// the same fields as sock_diag's, in about half the kernel time. Options.NoBPF turns it off.
//
// With the same privilege, socket events (bpf/sockev.bpf.c, sockev.go) report the owner of
// every socket as a process takes it (connect, listen, the first UDP send or receive),
// through a BPF ring buffer that a goroutine of the Sampler reads into an OwnerIndex
// (Sampler.Owners). The monitor asks it when it first sees a flow, so that a connection that
// closes between two dumps, and a process that exits, are attributed; Status.ProcessSource
// says whether it is in use (ProcessFromSockEvents) or processes come from /proc/PID/fd only
// (ProcessFromProcFD). Options.NoSockEvents (or NoBPF) turns it off.
//
// Readers take a proc root (like procfs NewFS), parsers take an io.Reader, so every parser
// runs on fixture trees under testdata/. A Sampler sends one Sample per interval on a channel
// and never blocks on a slow consumer.
package sampler
