// Package capture is wiretop's packet side: live capture through libpcap (or
// replay of a pcap/pcapng file through the very same loop), a kernel BPF base
// filter, a zero-allocation decoder, a bounded flow table that is swapped out
// once per interval and sent as a Batch, a user-space BPF packet filter that
// selects packets for the packet view and for writing to a pcap file, and the
// capture statistics (received, dropped).
//
// It is the only package of wiretop that uses cgo (libpcap, through
// github.com/gopacket/gopacket/pcap), in the files ending in _linux.go; on
// other systems Open returns errors.ErrUnsupported.
//
//	c, err := capture.Open(capture.Options{Interface: "eth0", BaseFilter: "not port 22"})
//	if err != nil { ... }              // ErrNoInterface, ErrPermission, ErrBadFilter
//	defer c.Close()
//	go c.Run(ctx, batches)             // one *Batch per interval
//	c.SetPacketFilter("tcp port 443")  // from the UI, at any time
//
// # The loop
//
// Run reads packets with ZeroCopyReadPacketData from a live libpcap handle
// (snaplen 256, an 8 MiB kernel buffer, a 100 ms read timeout so that idle
// intervals are sent and Close never hangs) or from the replayed
// file (read with pcapgo, or libpcap for the rare files pcapgo cannot open).
// It decodes the link, network and transport headers by hand (Ethernet,
// 802.1Q and 802.1ad/QinQ, Linux cooked v1 and v2, raw IP, BSD
// loopback/null, IPv4, IPv6 with extension headers, TCP, UDP, ICMP, ICMPv6,
// anything else by protocol number) and accounts each packet to its flow.
// Byte counts are the length of the packet on the wire as libpcap reports it
// (CaptureInfo.Length), never the captured length, so they agree with
// tcpdump, tshark and the kernel's interface counters; with "-i any" that
// length holds the 16- or 20-byte cooked header instead of the link header,
// as tcpdump and tshark count it. Non-first IP fragments carry no ports:
// they are accounted to their host pair with ports 0; the first fragment
// counts in its TCP or UDP flow (tshark does the same with reassembly off).
// The per-packet path allocates nothing (BenchmarkPacketPath).
//
// On lo every packet is seen twice, going out and coming in. A capture on
// a loopback interface keeps the incoming copy (pcap_setdirection); one on
// "any" skips the outgoing copy of packets on loopback devices, which the
// cooked header tells apart (packet type PACKET_OUTGOING, ARPHRD_LOOPBACK).
//
// Immediate mode is off, as in tcpdump: libpcap then uses a TPACKET_V3 ring,
// whose blocks hold packets back to back, and hands a block over when it is
// full or 100 ms old (half the interval when that is shorter). Immediate
// mode would use TPACKET_V2, which wakes the reader for every packet (six
// times the CPU under a flood of small packets) and whose fixed slots are as
// large as the snaplen: while writing (snaplen 65792) 8 MiB holds 127
// packets, and a burst of 200 short loopback connections lost 13-28% of its
// packets; with V3 it loses none (docs/bench-capture.md).
// A replay counts what the file holds, as tshark does.
//
// # Flows counted in the kernel
//
// A live capture counts flows in the kernel when it can (Options.Accounting,
// AccountAuto by default): a tc program (bpf/flowacct.bpf.c, compiled by
// scripts/gen-bpf.sh; the object is committed and embedded) is attached to the
// interface's ingress and egress with tcx links, which the kernel removes when
// their descriptors close, so a crash leaves nothing behind. It decodes each
// packet as the Go decoder does (Ethernet, stacked VLAN tags, IPv4, IPv6 and its
// extension headers, TCP, UDP, SCTP, DCCP, UDP-Lite, ICMP and ICMPv6 port
// unreachable; TestKernelDecoderAgrees runs every test capture through both)
// and counts it in a per-CPU LRU hash of 2*FlowCap entries keyed by the 5-tuple
// as the packet travels. Once per interval the loop reads the whole map with
// batch lookups, sums the CPUs, orients the keys local/remote (as below) and
// sends the growth of each flow's counters since the last read: the same Batch
// as the libpcap path, with no packet copied to user space and nothing done
// per packet in user space. TCP flags are per interval: the program writes
// them in the slot of an interval generation that user space bumps before each
// read. A packet on lo passes egress and ingress: the program is attached to
// ingress only there. Where the LRU evicts an entry whose packets were not read
// yet (the table is full), those packets are in Batch.Overflow, as rx: the
// totals still add up. Stats.Received counts the packets the program saw.
//
// # Flows not worth a row
//
// Under a spoofed SYN flood (hping3 -S --flood --rand-source) every packet is
// a new flow: an LRU insert in the kernel (about 940 ns a packet instead of
// 200-240 for a known flow) and an entry that user space reads, orients and
// deletes. The program therefore has a budget of new entries per interval: it
// counts the entries each CPU creates in the interval's generation, and once a
// CPU has created ctl.budget of them a handshake packet of
// a flow the map does not hold creates no entry: a bare TCP SYN (SYN without
// ACK, RST or FIN) is counted for its victim, the destination address, port and
// protocol, in a 1,024-entry LRU per-CPU map (packets, bytes, SYNs), and so is a
// SYN-ACK or RST whose reverse direction has no entry either (the answer to a
// SYN counted there), for its source. Every other packet is counted as before:
// known flows, new flows that are not TCP handshakes, and SYNs under the budget.
// Each read turns each victim whose counters grew into one aggregate row:
// FlowDelta.Flows says how many flows it stands for (the SYNs; a retransmitted
// SYN counts again), Key.Local is the victim, Key.Remote the unspecified
// address of its family with port 0 (the sources are not kept; the monitor
// shows it as "*", as iftop shows an aggregated side), rx the SYNs, tx the
// SYN-ACKs and RSTs, Flags and Handshake those of the interval (HsSynIn,
// HsSynAckOut, HsRstOut). An ACK towards a victim that starts an entry (the
// client's last handshake packet of a connection whose SYN was counted there)
// is counted for the victim too, and FlowDelta.FlowsAcked says how many of the
// row's flows completed their handshake: syn_flood does not count those as
// half-open. Totals still add up: every packet is in a flow's
// delta, an aggregate or the overflow. A real connection that opens while the
// budget is spent has its SYN and SYN-ACK in the aggregate and its packets from
// the first ACK on in a row of its own, without the handshake facts of its SYN
// (the detectors see no accepted connection for it). Batches hold at most
// FlowCap flows plus the victims' rows.
//
// The budget adapts to what each read finds over it. A capture starts with
// FlowCap/32 over the CPUs (2,048 new flows an interval for the default cap:
// a quiet host opens tens to hundreds; a 1,000-port scan and its answers fit).
// A read that finds SYNs over the budget, at least half of them completed by
// their client's ACK (FlowsAcked), has found a busy server: the intervals that
// follow have FlowCap/8 (8,192). One that finds fewer of them completed has
// found a flood (spoofed sources complete nothing): FlowCap/256 (256) until a
// read finds none over it, then FlowCap/32 again; and while the flood lasts
// the flows not worth a row (below) leave the table and the map at the next
// read, crowded or not, so that a read walks little more than the last
// interval's flows. Each admitted flow costs user space its entry, its talker
// and its attribution, about 20 µs in all: a flood's 8,192 an interval were
// most of the process's cost (docs/bench-capture.md), and a flood's first
// interval spends the whole budget in force before a read can tell.
// Capture.KeepFullBudget keeps FlowCap/8, for tests and benchmarks.
//
// Packets still reach user space through libpcap for what needs them: the
// packet view, the packet filter's matches and writing. The libpcap handle
// is then opened as well, with a kernel filter that drops every packet while
// none are wanted; with Options.NoLatePackets (headless runs) and no packet
// filter or file to write, none is opened. The kernel path is not used, and
// libpcap counts the flows as before, for "any", interfaces without an
// Ethernet header, a base filter (a base filter means libpcap: the program
// does not run tcpdump's language), and when the program does not load or
// attach (no CAP_BPF or CAP_NET_ADMIN, no tcx); Capture.AccountingNote says
// why, and Capture.AccountingSource what counts.
//
// # Orientation
//
// A flow is keyed by protocol and both endpoints, oriented local/remote. The
// local endpoint is the one whose address belongs to this host: a live
// capture takes HostAddrs() unless Options.LocalAddrs says otherwise, and
// Capture.SetLocalAddrs refreshes them. When neither or both endpoints are
// local (always the case in a replay without LocalAddrs), the endpoint with
// the lower port is taken as the local (server) side, ties broken by the
// lower address. Rx is traffic towards the local endpoint, tx traffic from
// it.
//
// # The flow table
//
// The table holds at most Options.FlowCap flows (65,536 by default) in fixed
// arrays, so a flood of new flows (spoofed sources) allocates nothing: the
// packets of flows that find the table full are summed in Batch.Overflow,
// and totals always add up. Flows silent for Options.IdleTimeout (2 minutes)
// are evicted, on the capture's clock. TestMillionFlows runs a million
// distinct flows through it.
//
// A table more than 3/4 full is crowded: at the end of each interval, once
// its deltas are swapped out (in the kernel path, once the whole map has
// been read), it also evicts, before the idle timeout, the flows not worth a
// row: TCP flows of at most 2 packets in their life (a saturating count in
// the entry), only handshake packets (a SYN, its SYN-ACK, a RST), and none
// in the interval just closed. That is what a spoofed SYN flood leaves
// behind; without this the table filled with them and the flows that
// started later went to overflow for the next 2 minutes. Everything they
// counted was sent in a batch and a flow with a delta waiting is never
// evicted, so totals stay exact; a SYN that comes back later starts a new
// row. Established flows, UDP flows and handshakes of 3 packets or more
// (a retransmitted SYN-ACK) keep their rows until the idle timeout. The
// kernel path knows each interval's TCP flags, not each packet's: there a
// packet without any flag beside a SYN passes for a handshake packet; it also
// evicts them, crowded or not, while a flood lasts (see above).
//
// # Intervals and coalescing
//
// Once per interval (on the wall clock live, on the file's clock in a replay)
// the loop swaps out the flow deltas of the interval and sends them as a
// Batch. The loop never blocks on a slow consumer: when the channel is full,
// the batch is kept and the next interval's deltas are summed into it, and the
// send is tried again at the next interval. At the end of a replay the last,
// partial interval is sent as well (Run waits for room for it). A replay is
// paced by the file's timestamps at Options.Speed (1 real time, 10 ten times
// faster), or runs as fast as it can (0). A silence in the file is sent as
// empty batches, one per interval; one longer than 3600 intervals as a
// single empty batch spanning it.
//
// # The two filters
//
// Options.BaseFilter is compiled by libpcap and attached to the live handle,
// in the kernel; in a replay it is compiled for the file's link type and run
// on every packet read. It restricts everything that is captured and
// accounted. The packet filter (Options.PacketFilter, Capture.SetPacketFilter)
// is compiled by libpcap too and run on every captured packet; it only
// selects the packets of Batch.Packets and those written by StartWriting. The
// flow accounting keeps counting everything. Both run libpcap's compiled
// classic-BPF program in a small Go interpreter (bpf.go), which follows
// libpcap's bpf_filter and is checked against it by FuzzPacketFilter: the
// cgo call to pcap_offline_filter alone costs more than decoding and
// accounting a packet.
//
// # Writing
//
// StartWriting (or Options.WriteFile) writes the packets that match the
// packet filter, all of them without one, to a pcap file of mode 0600
// (nanosecond timestamps; tcpdump, tshark and wiretop read it). A live
// capture reopens its handle with snaplen LiveWriteSnaplen (65792: the
// largest packet an interface hands over, 64 KiB GSO or lo's MTU, plus
// headers) for full packets while it writes, and goes back to its snaplen when writing stops (a few packets may
// be missed during the switch). The file is flushed every interval, and
// flushed and closed by StopWriting, Close, and at the end of Run. A write
// error stops the writing and is reported in Batch.Err.
package capture
