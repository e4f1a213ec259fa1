// Package monitor holds the domain state that every front end shares (the TUI, headless
// JSON Lines and, later, the Prometheus exporter). A State applies sampler Samples and keeps
// per-interface rates with 2s/10s/40s windows and nload-style session figures, the TCP state
// histogram, kernel TCP counters, and per-process TCP bandwidth from tcp_info deltas.
//
// The accounting rule for sockets: sockets present in the baseline sample count nothing; a
// socket first seen later counts all its bytes (it was opened since the last dump); a socket that
// vanished counts nothing more, except through its socket-destroy event, whose final tcp_info
// completes its count and is matched to its process by the socket cookie seen in earlier dumps.
//
// State is not safe for concurrent use: the owner (the Bubble Tea model or the headless loop)
// applies samples and reads from one goroutine.
package monitor
