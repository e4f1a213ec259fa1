// Package sampler reads the kernel's view of the network without touching packets:
// interface counters from /proc/net/dev, the socket table from sock_diag (NETLINK_INET_DIAG)
// or /proc/net/{tcp,tcp6,udp,udp6}, the inode -> process map from /proc/PID/fd, and the
// kernel TCP counters from /proc/net/snmp and /proc/net/netstat.
//
// Readers take a proc root (like procfs NewFS), parsers take an io.Reader, so every parser
// runs on fixture trees under testdata/. A Sampler sends one Sample per interval on a channel
// and never blocks on a slow consumer.
package sampler
