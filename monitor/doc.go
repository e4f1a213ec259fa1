// Package monitor holds the domain state that every front end shares (the TUI, headless
// JSON Lines and, later, the Prometheus exporter). A State applies sampler Samples and capture
// Batches and keeps per-interface rates with 2s/10s/40s windows and nload-style session
// figures, the TCP state histogram, kernel TCP counters, per-process bandwidth, talkers (like
// iftop) and a ring of packet summaries.
//
// # Sockets without capture
//
// Without capture, per-process TCP bandwidth comes from tcp_info deltas. The accounting rule
// for sockets: sockets present in the baseline sample count nothing; a socket first seen
// later counts all its bytes (it was opened since the last dump); a socket that vanished
// counts nothing more, except through its socket-destroy event, whose final tcp_info
// completes its count and is matched to its process by the socket cookie seen in earlier
// dumps.
//
// # Capture: intervals
//
// With capture (Options.Capture, or once a batch was applied), ApplyBatch accumulates flow
// deltas into the open interval, and the next regular sample (Apply, neither baseline nor
// refresh) closes it: talker and process rates use that sample's Elapsed, and the windows
// roll. Process bytes then come from the flows (source "pcap", TCP and UDP alike); tcp_info
// deltas are not added, while the socket table still feeds the socket index and the TCP
// state histogram. Batches applied after the last sample are in no closed interval: a
// caller that stops applies the capture's last batch before the sampler's last sample.
//
// With Options.Replay there is no sampler: each ApplyBatch closes its own interval of
// b.End-b.Start, drives the clock (Time is b.End, Elapsed sums the intervals) and feeds one
// pseudo-interface named Options.ReplayName (bytes and packets of the flows, each way; the
// packets without an IP flow counted as received). Flows are not attributed in a replay:
// their bytes are unattributed.
//
// # Capture: attribution
//
// Every sample's socket table (regular, baseline or refresh) rebuilds a socket index (see
// sockIndex for the lookup order: 4-tuple, listeners and unconnected UDP, wildcards,
// IPv4-mapped addresses). A flow is looked up when first seen; a miss marks it pending and
// NeedRefresh turns true, so the owner asks the sampler for a refresh
// (sampler.Sampler.RequestRefresh). Pending flows are looked up again after that refresh
// sample and at the next Options.PendingRetries regular samples; a flow that resolves before
// its interval closes has that interval's bytes counted to its process. What stays unknown is
// counted as unattributed, and UnattributedShare says which fraction of the captured bytes
// that is.
//
// # Talkers
//
// A talker is a flow with its last interval's bytes and packets, session totals and 2s, 10s
// and 40s average rates. Memory is bounded: the table holds at most Options.TalkerCap flows
// (more go to the overflow row); when it nears the cap, talkers idle in the last interval are
// evicted, least recently seen first, and their totals move to the overflow row, so that the
// rows always add up to what was captured. The windows keep, per talker, only the intervals
// in which it moved bytes (at most 128, released once it is idle for the longest window).
// Talkers answers top-N queries by flow or host pair in one pass over the table.
//
// State is not safe for concurrent use: the owner (the Bubble Tea model or the headless loop)
// applies samples and batches and reads from one goroutine.
package monitor
