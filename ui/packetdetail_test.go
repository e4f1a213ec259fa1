package ui

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/wiretop/wiretop/capture"
)

// readPcap reads the packets of a capture file with pcapgo (pcap or pcapng) as the capture
// hands them to the packets pane: the bytes, the wire length, the link type and the time.
func readPcap(t testing.TB, path string) []capture.PacketSummary {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []capture.PacketSummary
	add := func(data []byte, length int, ts time.Time, lt int) {
		out = append(out, capture.PacketSummary{Time: ts, Length: length, Data: append([]byte(nil), data...), LinkType: lt})
	}
	if strings.HasSuffix(path, ".pcapng") {
		r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		for {
			data, ci, err := r.ReadPacketData()
			if errors.Is(err, io.EOF) {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			add(data, ci.Length, ci.Timestamp, int(r.LinkType()))
		}
	}
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		add(data, ci.Length, ci.Timestamp, int(r.LinkType()))
	}
}

// detailFields map tshark's fields to the layer and field of the details view that show the
// same value.
var detailFields = []struct{ tshark, proto, field string }{
	{"eth.src", "eth", "Source"},
	{"eth.dst", "eth", "Destination"},
	{"vlan.id", "vlan", "ID"},
	{"ieee8021ad.id", "ieee8021ad", "ID"},
	{"sll.pkttype", "sll", "Packet type"},
	{"sll.ifindex", "sll", "Interface index"},
	{"ip.src", "ip", "Source address"},
	{"ip.dst", "ip", "Destination address"},
	{"ip.ttl", "ip", "Time to live"},
	{"ip.id", "ip", "Identification"},
	{"ip.len", "ip", "Total length"},
	{"ip.frag_offset", "ip", "Fragment offset"},
	{"ip.proto", "ip", "Protocol"},
	{"ipv6.src", "ipv6", "Source address"},
	{"ipv6.dst", "ipv6", "Destination address"},
	{"ipv6.hlim", "ipv6", "Hop limit"},
	{"ipv6.flow", "ipv6", "Flow label"},
	{"ipv6.plen", "ipv6", "Payload length"},
	{"ipv6.nxt", "ipv6", "Next header"},
	{"ipv6.fraghdr.ident", "ipv6.fraghdr", "Identification"},
	{"ipv6.fraghdr.more", "ipv6.fraghdr", "More fragments"},
	{"tcp.srcport", "tcp", "Source port"},
	{"tcp.dstport", "tcp", "Destination port"},
	{"tcp.seq_raw", "tcp", "Sequence number"},
	{"tcp.ack_raw", "tcp", "Acknowledgment number"},
	{"tcp.flags", "tcp", "Flags"},
	{"tcp.window_size_value", "tcp", "Window"},
	{"tcp.hdr_len", "tcp", "Header length"},
	{"tcp.options.mss_val", "tcp", "Options"},
	{"udp.srcport", "udp", "Source port"},
	{"udp.dstport", "udp", "Destination port"},
	{"udp.length", "udp", "Length"},
	{"icmp.type", "icmp", "Type"},
	{"icmp.code", "icmp", "Code"},
	{"icmpv6.type", "icmpv6", "Type"},
	{"icmpv6.nd.ns.target_address", "icmpv6", "Target address"},
	{"arp.opcode", "arp", "Opcode"},
	{"arp.src.proto_ipv4", "arp", "Sender IP address"},
	{"dns.id", "dns", "Transaction ID"},
}

// TestPacketDetailAgreesWithTshark decodes every packet of the test captures (Ethernet with
// 802.1Q and 802.1ad tags, IPv6 extension headers and fragments, Linux cooked v1 and v2,
// pcapng) and checks the layers and their fields against what tshark, a decoder nobody here
// wrote, reads from the same bytes.
func TestPacketDetailAgreesWithTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Fatal("tshark not found: `make test` installs it (scripts/deps.sh)")
	}
	files, err := filepath.Glob("../testdata/pcap/*.pcap*")
	if err != nil || len(files) < 4 {
		t.Fatalf("test captures missing: %v %v", files, err)
	}
	for _, file := range files {
		if filepath.Base(file) == "demo.pcap" {
			continue // large; its kinds of packets are in the others
		}
		t.Run(filepath.Base(file), func(t *testing.T) {
			pkts := readPcap(t, file)
			rows := tsharkFields(t, file, detailFields)
			if len(rows) != len(pkts) {
				t.Fatalf("tshark reads %d packets, pcapgo %d", len(rows), len(pkts))
			}
			checked := 0
			for i := range pkts {
				d := decodeDetail(&pkts[i])
				if d.problem != "" {
					t.Errorf("packet %d: %s", i+1, d.problem)
				}
				want := transportProtos(rows[i][0])
				got := transportProtos(protosOf(d))
				if got != want {
					t.Errorf("packet %d: layers %s, tshark %s", i+1, got, want)
				}
				for j, f := range detailFields {
					tv := rows[i][j+1]
					if tv == "" {
						continue // a field tshark does not show for this packet
					}
					ours := fieldValues(d, f.proto, f.field)
					theirs := strings.Split(tv, ",")
					if len(ours) != len(theirs) {
						t.Errorf("packet %d: %s: tshark %q, ours %q", i+1, f.tshark, tv, ours)
						continue
					}
					for k := range theirs {
						if !sameValue(ours[k], theirs[k]) {
							t.Errorf("packet %d: %s: tshark %q, ours %q", i+1, f.tshark, theirs[k], ours[k])
						}
						checked++
					}
				}
			}
			if checked < 10*len(pkts) {
				t.Errorf("only %d fields compared for %d packets: the test proves little", checked, len(pkts))
			}
		})
	}
}

// tsharkFields runs tshark -T fields on a file (no reassembly, so that each packet is read on
// its own as the details view reads it) and returns, per packet, frame.protocols and then the
// fields.
func tsharkFields(t *testing.T, file string, fields []struct{ tshark, proto, field string }) [][]string {
	t.Helper()
	args := []string{"-r", file, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE", "-o", "tcp.desegment_tcp_streams:FALSE",
		"-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,", "-e", "frame.protocols"}
	for _, f := range fields {
		args = append(args, "-e", f.tshark)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark %v: %v", args, err)
	}
	var rows [][]string
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		rows = append(rows, strings.Split(l, "|"))
	}
	return rows
}

// transportProtos keeps the protocols of frame.protocols up to the transport (what comes after
// it is the application, which the details view leaves to the hex dump), without tshark's
// "ethertype" pseudo-layers.
func transportProtos(protos string) string {
	var out []string
	for _, p := range strings.Split(protos, ":") {
		switch p {
		case "ethertype", "frame":
			continue
		}
		out = append(out, p)
		switch p {
		case "tcp", "udp", "icmp", "icmpv6", "arp":
			return strings.Join(out, ":")
		}
	}
	return strings.Join(out, ":")
}

func protosOf(d packetDetail) string {
	var ps []string
	for _, l := range d.layers {
		ps = append(ps, l.proto)
	}
	return strings.Join(ps, ":")
}

func fieldValues(d packetDetail, proto, field string) []string {
	var out []string
	for i := range d.layers {
		if l := &d.layers[i]; l.proto == proto {
			if v := l.field(field); v != "" {
				out = append(out, v)
			}
		}
	}
	return out
}

// sameValue compares a value of ours with tshark's: equal text, or a number that one of our
// words spells ("Sent by us (4)" and "4", "0x018 (PSH, ACK)" and "0x0018"), or tshark's
// booleans as our yes and no, or tshark's value inside ours ("mss 1460").
func sameValue(ours, theirs string) bool {
	if ours == theirs {
		return true
	}
	switch theirs {
	case "True", "1":
		if ours == "yes" {
			return true
		}
	case "False", "0":
		if ours == "no" {
			return true
		}
	}
	if n, err := strconv.ParseUint(theirs, 0, 64); err == nil {
		for _, w := range strings.FieldsFunc(ours, func(r rune) bool { return strings.ContainsRune(" (),[]", r) }) {
			if m, err := strconv.ParseUint(w, 0, 64); err == nil && m == n {
				return true
			}
		}
	}
	return strings.Contains(ours, " "+theirs)
}
