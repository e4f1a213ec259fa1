// Package capture is wiretop's packet side: live capture through libpcap (or
// replay of a pcap/pcapng file through the very same loop), a kernel BPF base
// filter, a zero-allocation decoder, a bounded flow table that is swapped out
// once per interval and sent as a Batch, a user-space BPF packet filter that
// selects packets for the packet view and for writing to a pcap file, and the
// capture statistics (received, dropped).
//
// It is the only package of wiretop that uses cgo (libpcap, through
// github.com/gopacket/gopacket/pcap).
//
// # The loop
//
// Run reads packets with ZeroCopyReadPacketData, decodes the link, network and
// transport headers by hand (Ethernet, 802.1Q and 802.1ad/QinQ, Linux cooked
// v1 and v2, raw IP, BSD loopback/null, IPv4, IPv6 with extension headers,
// TCP, UDP, ICMP, ICMPv6, anything else by protocol number) and accounts each
// packet to its flow. Byte counts are the length of the packet on the wire
// (CaptureInfo.Length), never the captured length, so they agree with tcpdump,
// tshark and the kernel's interface counters. Non-first IP fragments carry no
// ports: they are accounted to their host pair with ports 0. The per-packet
// path allocates nothing (see BenchmarkPacketPath).
//
// # Orientation
//
// A flow is keyed by protocol and both endpoints, oriented local/remote. The
// local endpoint is the one whose address belongs to this host (see
// Options.LocalAddrs and Capture.SetLocalAddrs). When neither or both
// endpoints are local (always the case in a replay without LocalAddrs), the
// endpoint with the lower port is taken as the local (server) side, ties
// broken by the lower address. Rx is traffic towards the local endpoint, tx
// traffic from it.
//
// # Intervals and coalescing
//
// Once per interval (on the wall clock live, on the file's clock in a replay)
// the loop swaps out the flow deltas of the interval and sends them as a
// Batch. The loop never blocks on a slow consumer: when the channel is full,
// the batch is kept and the next interval's deltas are summed into it, and the
// send is tried again at the next interval. At the end of a replay the last,
// partial interval is sent as well.
//
// # The two filters
//
// Options.BaseFilter is compiled by libpcap and attached to the handle: in the
// kernel for a live capture, in libpcap for a replay. It restricts everything
// that is captured and accounted. The packet filter (Options.PacketFilter,
// Capture.SetPacketFilter) is compiled by libpcap for user space and run on
// every captured packet; it only selects the packets shown in Batch.Packets
// and written by StartWriting. The flow accounting keeps counting everything.
package capture
