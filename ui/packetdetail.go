package ui

import (
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/wiretop/wiretop/capture"
)

// packetDetail is one packet decoded for the details view, as a Wireshark tree lists it:
// the frame, then one layer per protocol (link, VLAN tags, IP and its extension headers,
// transport, DNS) with its fields. It is decoded once, when the packet is selected, with
// gopacket's layers (pure Go), and kept until another packet is.
type packetDetail struct {
	layers []detailLayer
	// problem is what gopacket could not decode (a header cut by the snap length, a damaged
	// one), "" when the whole packet decoded.
	problem string
}

// detailLayer is one protocol of a packet: a heading and its fields.
type detailLayer struct {
	// proto is the protocol's short name as tshark lists it in frame.protocols ("eth",
	// "vlan", "ip", "ipv6.hopopts", "tcp", ...).
	proto   string
	heading string
	fields  []detailField
}

// detailField is one line under a layer's heading.
type detailField struct{ name, value string }

// field returns the value of the named field, "" when the layer has none.
func (l *detailLayer) field(name string) string {
	for _, f := range l.fields {
		if f.name == name {
			return f.value
		}
	}
	return ""
}

func (l *detailLayer) add(name, format string, args ...any) {
	l.fields = append(l.fields, detailField{name, fmt.Sprintf(format, args...)})
}

// detailKey identifies the packet a packetDetail was decoded from: each summary owns its copy
// of the bytes, so their address tells packets apart.
type detailKey struct {
	data   *byte
	length int
	n      int
}

func keyOf(pk *capture.PacketSummary) detailKey {
	k := detailKey{length: pk.Length, n: len(pk.Data)}
	if len(pk.Data) > 0 {
		k.data = &pk.Data[0]
	}
	return k
}

// linkTypeOf maps the DLT value of a live handle to the LINKTYPE value gopacket decodes: raw IP
// is DLT_RAW (12, 14 on OpenBSD) on a live handle and LINKTYPE_RAW (101) in files.
func linkTypeOf(dlt int) layers.LinkType {
	switch dlt {
	case 12, 14:
		return layers.LinkTypeRaw
	}
	return layers.LinkType(dlt)
}

// decodeDetail decodes the captured bytes of a packet into its layers.
func decodeDetail(pk *capture.PacketSummary) packetDetail {
	lt := linkTypeOf(pk.LinkType)
	frame := detailLayer{proto: "frame", heading: fmt.Sprintf("Frame: %d bytes on the wire (%d bits), %d bytes captured (%d bits)",
		pk.Length, pk.Length*8, len(pk.Data), len(pk.Data)*8)}
	frame.add("Encapsulation", "%s (%d)", linkTypeName(lt), pk.LinkType)
	frame.add("Arrival time", "%s", pk.Time.Format("2006-01-02 15:04:05.000000000 MST"))
	if len(pk.Data) < pk.Length {
		frame.add("Captured", "%d of %d bytes (snap length)", len(pk.Data), pk.Length)
	}
	d := packetDetail{layers: []detailLayer{frame}}
	if len(pk.Data) == 0 {
		d.problem = "no bytes were kept for this packet"
		return d
	}
	dec := detailDecoder{d: &d}
	dec.decode(gopacket.NewPacket(pk.Data, lt, gopacket.DecodeOptions{NoCopy: true}))
	return d
}

// detailDecoder turns gopacket's layers into detail layers, remembering what the next layer
// needs from the one before.
type detailDecoder struct {
	d         *packetDetail
	etherType layers.EthernetType // of the header before a VLAN tag: 802.1Q or 802.1ad
	// firstFragment is set by an IP header that starts a fragmented datagram: its payload
	// begins with the header of next, which tcpdump and tshark show (gopacket does not).
	firstFragment bool
	next          layers.IPProtocol
}

func (dec *detailDecoder) decode(pkt gopacket.Packet) {
	d := dec.d
	for _, l := range pkt.Layers() {
		switch l := l.(type) {
		case *layers.Ethernet:
			dec.etherType = l.EthernetType
			d.layers = append(d.layers, ethernetLayer(l))
		case *layers.Dot1Q:
			d.layers = append(d.layers, dot1qLayer(l, dec.etherType))
			dec.etherType = l.Type
		case *layers.LinuxSLL:
			d.layers = append(d.layers, sllLayer(l))
		case *layers.LinuxSLL2:
			d.layers = append(d.layers, sll2Layer(l))
		case *layers.Loopback:
			dl := detailLayer{proto: "null", heading: "Null/Loopback"}
			dl.add("Family", "%s (%d)", l.Family, uint32(l.Family))
			d.layers = append(d.layers, dl)
		case *layers.ARP:
			d.layers = append(d.layers, arpLayer(l))
		case *layers.IPv4:
			d.layers = append(d.layers, ipv4Layer(l))
			dec.firstFragment = l.FragOffset == 0 && l.Flags&layers.IPv4MoreFragments != 0
			dec.next = l.Protocol
		case *layers.IPv6:
			d.layers = append(d.layers, ipv6Layer(l))
		case *layers.IPv6HopByHop:
			dl := detailLayer{proto: "ipv6.hopopts", heading: "IPv6 Hop-by-Hop Option"}
			extFields(&dl, l.NextHeader, l.HeaderLength, l.ActualLength)
			for _, o := range l.Options {
				dl.add("Option", "%s", tlvOption(o.OptionType, o.OptionLength, o.OptionData))
			}
			d.layers = append(d.layers, dl)
		case *layers.IPv6Destination:
			dl := detailLayer{proto: "ipv6.dstopts", heading: "Destination Options for IPv6"}
			extFields(&dl, l.NextHeader, l.HeaderLength, l.ActualLength)
			for _, o := range l.Options {
				dl.add("Option", "%s", tlvOption(o.OptionType, o.OptionLength, o.OptionData))
			}
			d.layers = append(d.layers, dl)
		case *layers.IPv6Routing:
			dl := detailLayer{proto: "ipv6.routing", heading: fmt.Sprintf("Routing Header for IPv6 (type %d)", l.RoutingType)}
			extFields(&dl, l.NextHeader, l.HeaderLength, l.ActualLength)
			dl.add("Type", "%d", l.RoutingType)
			dl.add("Segments left", "%d", l.SegmentsLeft)
			for _, a := range l.SourceRoutingIPs {
				dl.add("Address", "%s", a)
			}
			d.layers = append(d.layers, dl)
		case *layers.IPv6Fragment:
			dl := detailLayer{proto: "ipv6.fraghdr", heading: "Fragment Header for IPv6"}
			dl.add("Next header", "%s", protoName(l.NextHeader))
			dl.add("Offset", "%d (%d bytes)", l.FragmentOffset, int(l.FragmentOffset)*8)
			dl.add("More fragments", "%s", yesNo(l.MoreFragments))
			dl.add("Identification", "0x%08x", l.Identification)
			d.layers = append(d.layers, dl)
			dec.firstFragment = l.FragmentOffset == 0 && l.MoreFragments
			dec.next = l.NextHeader
		case *layers.TCP:
			d.layers = append(d.layers, tcpLayer(l))
		case *layers.UDP:
			dl := detailLayer{proto: "udp", heading: fmt.Sprintf("User Datagram Protocol, Src Port: %d, Dst Port: %d", l.SrcPort, l.DstPort)}
			dl.add("Source port", "%d", l.SrcPort)
			dl.add("Destination port", "%d", l.DstPort)
			dl.add("Length", "%d", l.Length)
			dl.add("Checksum", "0x%04x", l.Checksum)
			dl.add("Payload", "%d bytes", max(int(l.Length)-8, 0))
			d.layers = append(d.layers, dl)
		case *layers.ICMPv4:
			d.layers = append(d.layers, icmpLayer(l))
		case *layers.ICMPv6:
			dl := detailLayer{proto: "icmpv6", heading: "Internet Control Message Protocol v6"}
			t := l.TypeCode.Type()
			dl.add("Type", "%d (%s)", t, icmpv6Name(t, l.TypeCode))
			dl.add("Code", "%d", l.TypeCode.Code())
			dl.add("Checksum", "0x%04x", l.Checksum)
			d.layers = append(d.layers, dl)
		case *layers.ICMPv6Echo: // the rest of the ICMPv6 message, under its heading
			if last := &d.layers[len(d.layers)-1]; last.proto == "icmpv6" {
				last.add("Identifier", "%d (0x%04x)", l.Identifier, l.Identifier)
				last.add("Sequence", "%d", l.SeqNumber)
			}
		case *layers.ICMPv6NeighborSolicitation:
			if last := &d.layers[len(d.layers)-1]; last.proto == "icmpv6" {
				last.add("Target address", "%s", l.TargetAddress)
			}
		case *layers.ICMPv6NeighborAdvertisement:
			if last := &d.layers[len(d.layers)-1]; last.proto == "icmpv6" {
				last.add("Flags", "0x%02x%s", l.Flags, naFlags(l.Flags))
				last.add("Target address", "%s", l.TargetAddress)
			}
		case *layers.DNS:
			d.layers = append(d.layers, dnsLayer(l))
		case *gopacket.Payload:
			d.layers = append(d.layers, detailLayer{proto: "data", heading: fmt.Sprintf("Data (%d bytes)", len(l.Payload()))})
		case *gopacket.Fragment:
			if dec.firstFragment {
				dec.firstFragment = false
				dec.decode(gopacket.NewPacket(l.Payload(), dec.next.LayerType(), gopacket.DecodeOptions{NoCopy: true}))
				continue
			}
			d.layers = append(d.layers, detailLayer{proto: "data", heading: fmt.Sprintf("Fragment data (%d bytes)", len(l.Payload()))})
		case *gopacket.DecodeFailure:
			d.problem = l.Error().Error()
		default:
			d.layers = append(d.layers, detailLayer{proto: strings.ToLower(l.LayerType().String()), heading: l.LayerType().String()})
		}
	}
}

func ethernetLayer(l *layers.Ethernet) detailLayer {
	dl := detailLayer{proto: "eth", heading: fmt.Sprintf("Ethernet II, Src: %s, Dst: %s", l.SrcMAC, l.DstMAC)}
	dl.add("Destination", "%s", l.DstMAC)
	dl.add("Source", "%s", l.SrcMAC)
	if l.EthernetType < 0x0600 { // an 802.3 length
		dl.add("Length", "%d", l.Length)
	} else {
		dl.add("Type", "%s", etherTypeName(l.EthernetType))
	}
	return dl
}

// dot1qLayer is a VLAN tag: a customer tag (802.1Q) or, after 0x88a8, a provider tag (802.1ad).
func dot1qLayer(l *layers.Dot1Q, tpid layers.EthernetType) detailLayer {
	dei := 0
	if l.DropEligible {
		dei = 1
	}
	dl := detailLayer{proto: "vlan", heading: fmt.Sprintf("802.1Q Virtual LAN, PRI: %d, DEI: %d, ID: %d", l.Priority, dei, l.VLANIdentifier)}
	if tpid == layers.EthernetTypeQinQ {
		dl.proto, dl.heading = "ieee8021ad", fmt.Sprintf("IEEE 802.1ad, ID: %d", l.VLANIdentifier)
	}
	dl.add("Priority", "%d", l.Priority)
	dl.add("DEI", "%d", dei)
	dl.add("ID", "%d", l.VLANIdentifier)
	dl.add("Type", "%s", etherTypeName(l.Type))
	return dl
}

func sllLayer(l *layers.LinuxSLL) detailLayer {
	dl := detailLayer{proto: "sll", heading: "Linux cooked capture v1"}
	dl.add("Packet type", "%s (%d)", sllPacketType(uint8(l.PacketType)), l.PacketType)
	dl.add("Link-layer address type", "%s (%d)", arphrdName(l.AddrType), l.AddrType)
	dl.add("Link-layer address length", "%d", l.AddrLen)
	if len(l.Addr) > 0 {
		dl.add("Source", "%s", l.Addr)
	}
	dl.add("Protocol", "%s", etherTypeName(l.EthernetType))
	return dl
}

func sll2Layer(l *layers.LinuxSLL2) detailLayer {
	dl := detailLayer{proto: "sll", heading: "Linux cooked capture v2"}
	dl.add("Protocol", "%s", etherTypeName(l.ProtocolType))
	dl.add("Interface index", "%d", l.InterfaceIndex)
	dl.add("Link-layer address type", "%s (%d)", arphrdName(uint16(l.ARPHardwareType)), uint16(l.ARPHardwareType))
	dl.add("Packet type", "%s (%d)", sllPacketType(uint8(l.PacketType)), l.PacketType)
	dl.add("Link-layer address length", "%d", l.AddrLength)
	if len(l.Addr) > 0 {
		dl.add("Source", "%s", l.Addr)
	}
	return dl
}

func arpLayer(l *layers.ARP) detailLayer {
	op := map[uint16]string{1: "request", 2: "reply"}[l.Operation]
	if op == "" {
		op = strconv.Itoa(int(l.Operation))
	}
	dl := detailLayer{proto: "arp", heading: "Address Resolution Protocol (" + op + ")"}
	dl.add("Hardware type", "%d", uint16(l.AddrType))
	dl.add("Protocol type", "%s", etherTypeName(l.Protocol))
	dl.add("Opcode", "%s (%d)", op, l.Operation)
	dl.add("Sender MAC address", "%s", net.HardwareAddr(l.SourceHwAddress))
	dl.add("Sender IP address", "%s", net.IP(l.SourceProtAddress))
	dl.add("Target MAC address", "%s", net.HardwareAddr(l.DstHwAddress))
	dl.add("Target IP address", "%s", net.IP(l.DstProtAddress))
	return dl
}

func ipv4Layer(l *layers.IPv4) detailLayer {
	dl := detailLayer{proto: "ip", heading: fmt.Sprintf("Internet Protocol Version 4, Src: %s, Dst: %s", l.SrcIP, l.DstIP)}
	dl.add("Version", "%d", l.Version)
	dl.add("Header length", "%d bytes (%d)", int(l.IHL)*4, l.IHL)
	dl.add("Differentiated services", "0x%02x (DSCP %d, ECN %d)", l.TOS, l.TOS>>2, l.TOS&3)
	dl.add("Total length", "%d", l.Length)
	dl.add("Identification", "0x%04x (%d)", l.Id, l.Id)
	var fl []string
	if l.Flags&layers.IPv4EvilBit != 0 {
		fl = append(fl, "reserved")
	}
	if l.Flags&layers.IPv4DontFragment != 0 {
		fl = append(fl, "DF")
	}
	if l.Flags&layers.IPv4MoreFragments != 0 {
		fl = append(fl, "MF")
	}
	flags := fmt.Sprintf("0x%x", uint8(l.Flags))
	if len(fl) > 0 {
		flags += " (" + strings.Join(fl, ", ") + ")"
	}
	dl.add("Flags", "%s", flags)
	dl.add("Fragment offset", "%d (%d bytes)", l.FragOffset, int(l.FragOffset)*8)
	dl.add("Time to live", "%d", l.TTL)
	dl.add("Protocol", "%s", protoName(l.Protocol))
	dl.add("Header checksum", "0x%04x", l.Checksum)
	dl.add("Source address", "%s", l.SrcIP)
	dl.add("Destination address", "%s", l.DstIP)
	for _, o := range l.Options {
		if o.OptionType == 0 || o.OptionType == 1 { // end of list, no-op
			continue
		}
		dl.add("Option", "type %d, length %d", o.OptionType, o.OptionLength)
	}
	return dl
}

func ipv6Layer(l *layers.IPv6) detailLayer {
	dl := detailLayer{proto: "ipv6", heading: fmt.Sprintf("Internet Protocol Version 6, Src: %s, Dst: %s", l.SrcIP, l.DstIP)}
	dl.add("Version", "%d", l.Version)
	dl.add("Traffic class", "0x%02x (DSCP %d, ECN %d)", l.TrafficClass, l.TrafficClass>>2, l.TrafficClass&3)
	dl.add("Flow label", "0x%05x", l.FlowLabel)
	dl.add("Payload length", "%d", l.Length)
	dl.add("Next header", "%s", protoName(l.NextHeader))
	dl.add("Hop limit", "%d", l.HopLimit)
	dl.add("Source address", "%s", l.SrcIP)
	dl.add("Destination address", "%s", l.DstIP)
	return dl
}

// extFields are the fields every IPv6 extension header starts with.
func extFields(dl *detailLayer, next layers.IPProtocol, hdrLen uint8, actual int) {
	dl.add("Next header", "%s", protoName(next))
	dl.add("Length", "%d (%d bytes)", hdrLen, actual)
}

// tlvOption names an option of a hop-by-hop or destination options header.
func tlvOption(typ, length uint8, data []byte) string {
	name := map[uint8]string{0: "Pad1", 1: "PadN", 4: "Tunnel Encapsulation Limit", 5: "Router Alert", 0xc2: "Jumbo Payload"}[typ]
	if name == "" {
		name = "type " + strconv.Itoa(int(typ))
	}
	switch {
	case typ == 0:
		return name
	case typ == 5 && len(data) == 2:
		return fmt.Sprintf("%s, length %d, value %d", name, length, binary.BigEndian.Uint16(data))
	}
	return fmt.Sprintf("%s, length %d", name, length)
}

func tcpLayer(l *layers.TCP) detailLayer {
	payload := len(l.Payload)
	dl := detailLayer{proto: "tcp", heading: fmt.Sprintf("Transmission Control Protocol, Src Port: %d, Dst Port: %d, Seq: %d, Ack: %d, Len: %d",
		l.SrcPort, l.DstPort, l.Seq, l.Ack, payload)}
	dl.add("Source port", "%d", l.SrcPort)
	dl.add("Destination port", "%d", l.DstPort)
	dl.add("Sequence number", "%d", l.Seq)
	dl.add("Acknowledgment number", "%d", l.Ack)
	dl.add("Header length", "%d bytes (%d)", int(l.DataOffset)*4, l.DataOffset)
	bits, names, short := tcpFlags(l)
	dl.add("Flags", "0x%03x (%s) [%s]", bits, strings.Join(names, ", "), short)
	dl.add("Window", "%d", l.Window)
	dl.add("Checksum", "0x%04x", l.Checksum)
	dl.add("Urgent pointer", "%d", l.Urgent)
	if len(l.Options) > 0 {
		dl.add("Options", "%s", tcpOptions(l.Options))
	}
	dl.add("Payload", "%d bytes", payload)
	return dl
}

// tcpFlags returns the flag bits, their names as Wireshark spells them, and tcpdump's letters
// ("S.", "P.", "F.").
func tcpFlags(l *layers.TCP) (uint16, []string, string) {
	var bits uint16
	var names []string
	var short strings.Builder
	for _, f := range []struct {
		on   bool
		bit  uint16
		name string
	}{
		{l.NS, 0x100, "AE"}, {l.CWR, 0x80, "CWR"}, {l.ECE, 0x40, "ECE"}, {l.URG, 0x20, "URG"},
		{l.ACK, 0x10, "ACK"}, {l.PSH, 0x08, "PSH"}, {l.RST, 0x04, "RST"}, {l.SYN, 0x02, "SYN"}, {l.FIN, 0x01, "FIN"},
	} {
		if f.on {
			bits |= f.bit
			names = append(names, f.name)
		}
	}
	// tcpdump's order: S F P R U W E, then "." for ACK.
	for _, f := range []struct {
		on     bool
		letter string
	}{{l.SYN, "S"}, {l.FIN, "F"}, {l.PSH, "P"}, {l.RST, "R"}, {l.URG, "U"}, {l.CWR, "W"}, {l.ECE, "E"}} {
		if f.on {
			short.WriteString(f.letter)
		}
	}
	if l.ACK {
		short.WriteString(".")
	}
	if short.Len() == 0 {
		short.WriteString("none")
	}
	if len(names) == 0 {
		names = []string{"none"}
	}
	return bits, names, short.String()
}

// tcpOptions lists TCP options as tcpdump prints them: "mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7".
func tcpOptions(opts []layers.TCPOption) string {
	out := make([]string, 0, len(opts))
	for _, o := range opts {
		d := o.OptionData
		switch o.OptionType {
		case layers.TCPOptionKindEndList:
			out = append(out, "eol")
		case layers.TCPOptionKindNop:
			out = append(out, "nop")
		case layers.TCPOptionKindMSS:
			if len(d) == 2 {
				out = append(out, fmt.Sprintf("mss %d", binary.BigEndian.Uint16(d)))
				continue
			}
			out = append(out, "mss ?")
		case layers.TCPOptionKindWindowScale:
			if len(d) == 1 {
				out = append(out, fmt.Sprintf("wscale %d", d[0]))
				continue
			}
			out = append(out, "wscale ?")
		case layers.TCPOptionKindSACKPermitted:
			out = append(out, "sackOK")
		case layers.TCPOptionKindSACK:
			var blocks []string
			for i := 0; i+8 <= len(d); i += 8 {
				blocks = append(blocks, fmt.Sprintf("{%d:%d}", binary.BigEndian.Uint32(d[i:]), binary.BigEndian.Uint32(d[i+4:])))
			}
			out = append(out, "sack "+strconv.Itoa(len(blocks))+" "+strings.Join(blocks, ""))
		case layers.TCPOptionKindTimestamps:
			if len(d) == 8 {
				out = append(out, fmt.Sprintf("TS val %d ecr %d", binary.BigEndian.Uint32(d), binary.BigEndian.Uint32(d[4:])))
				continue
			}
			out = append(out, "TS ?")
		default:
			out = append(out, fmt.Sprintf("opt-%d", uint8(o.OptionType)))
		}
	}
	return strings.Join(out, ",")
}

func icmpLayer(l *layers.ICMPv4) detailLayer {
	dl := detailLayer{proto: "icmp", heading: "Internet Control Message Protocol"}
	t := l.TypeCode.Type()
	dl.add("Type", "%d (%s)", t, icmpName(t, l.TypeCode))
	dl.add("Code", "%d", l.TypeCode.Code())
	dl.add("Checksum", "0x%04x", l.Checksum)
	switch t {
	case layers.ICMPv4TypeEchoRequest, layers.ICMPv4TypeEchoReply, layers.ICMPv4TypeTimestampRequest, layers.ICMPv4TypeTimestampReply:
		dl.add("Identifier", "%d (0x%04x)", l.Id, l.Id)
		dl.add("Sequence", "%d", l.Seq)
	}
	return dl
}

func icmpName(t uint8, tc layers.ICMPv4TypeCode) string {
	names := map[uint8]string{
		0: "Echo (ping) reply", 3: "Destination unreachable", 5: "Redirect", 8: "Echo (ping) request",
		11: "Time-to-live exceeded", 12: "Parameter problem", 13: "Timestamp", 14: "Timestamp reply",
	}
	if n, ok := names[t]; ok {
		return n
	}
	return tc.String()
}

func icmpv6Name(t uint8, tc layers.ICMPv6TypeCode) string {
	names := map[uint8]string{
		1: "Destination Unreachable", 2: "Packet Too Big", 3: "Time Exceeded", 4: "Parameter Problem",
		128: "Echo (ping) request", 129: "Echo (ping) reply", 133: "Router Solicitation", 134: "Router Advertisement",
		135: "Neighbor Solicitation", 136: "Neighbor Advertisement", 137: "Redirect", 143: "Multicast Listener Report Message v2",
	}
	if n, ok := names[t]; ok {
		return n
	}
	return tc.String()
}

// naFlags names the router, solicited and override flags of a neighbor advertisement.
func naFlags(f uint8) string {
	var s []string
	for _, b := range []struct {
		bit  uint8
		name string
	}{{0x80, "router"}, {0x40, "solicited"}, {0x20, "override"}} {
		if f&b.bit != 0 {
			s = append(s, b.name)
		}
	}
	if len(s) == 0 {
		return ""
	}
	return " (" + strings.Join(s, ", ") + ")"
}

func dnsLayer(l *layers.DNS) detailLayer {
	kind := "query"
	if l.QR {
		kind = "response"
	}
	dl := detailLayer{proto: "dns", heading: "Domain Name System (" + kind + ")"}
	dl.add("Transaction ID", "0x%04x", l.ID)
	flags := kind + ", " + l.OpCode.String()
	if l.QR {
		flags += ", " + l.ResponseCode.String()
	}
	dl.add("Flags", "%s", flags)
	dl.add("Counts", "%d questions, %d answers, %d authority, %d additional", l.QDCount, l.ANCount, l.NSCount, l.ARCount)
	for _, q := range l.Questions {
		dl.add("Query", "%s: type %s, class %s", q.Name, q.Type, q.Class)
	}
	for _, a := range l.Answers {
		dl.add("Answer", "%s", dnsRecord(&a))
	}
	return dl
}

// dnsRecord prints a resource record as dig does, roughly: name, type and its data.
func dnsRecord(a *layers.DNSResourceRecord) string {
	s := fmt.Sprintf("%s: type %s, class %s, ttl %d", a.Name, a.Type, a.Class, a.TTL)
	switch {
	case a.IP != nil:
		s += ", addr " + a.IP.String()
	case len(a.CNAME) > 0:
		s += ", cname " + string(a.CNAME)
	case len(a.PTR) > 0:
		s += ", ptr " + string(a.PTR)
	case len(a.NS) > 0:
		s += ", ns " + string(a.NS)
	}
	return s
}

// protoName names an IP protocol or next header with its number, as Wireshark does.
func protoName(p layers.IPProtocol) string {
	names := map[layers.IPProtocol]string{
		0: "IPv6 Hop-by-Hop Option", 1: "ICMP", 2: "IGMP", 4: "IPIP", 6: "TCP", 17: "UDP", 41: "IPv6",
		43: "Routing Header for IPv6", 44: "Fragment Header for IPv6", 47: "GRE", 50: "ESP", 51: "AH",
		58: "ICMPv6", 59: "No Next Header for IPv6", 60: "Destination Options for IPv6", 132: "SCTP",
	}
	n, ok := names[p]
	if !ok {
		n = p.String()
	}
	return fmt.Sprintf("%s (%d)", n, uint8(p))
}

// etherTypeName names an EtherType with its value.
func etherTypeName(t layers.EthernetType) string {
	names := map[layers.EthernetType]string{
		0x0800: "IPv4", 0x86dd: "IPv6", 0x0806: "ARP", 0x8100: "802.1Q Virtual LAN", 0x88a8: "802.1ad Provider Bridge (Q-in-Q)",
		0x8847: "MPLS", 0x88cc: "LLDP", 0x8035: "RARP", 0x888e: "802.1X Authentication",
	}
	n, ok := names[t]
	if !ok {
		n = t.String()
	}
	return fmt.Sprintf("%s (0x%04x)", n, uint16(t))
}

func linkTypeName(lt layers.LinkType) string {
	switch lt {
	case layers.LinkTypeEthernet:
		return "Ethernet"
	case layers.LinkTypeLinuxSLL:
		return "Linux cooked v1"
	case layers.LinkTypeLinuxSLL2:
		return "Linux cooked v2"
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6:
		return "raw IP"
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		return "BSD loopback"
	}
	return lt.String()
}

// sllPacketType names the direction of a cooked packet.
func sllPacketType(t uint8) string {
	switch t {
	case 0:
		return "Unicast to us"
	case 1:
		return "Broadcast"
	case 2:
		return "Multicast"
	case 3:
		return "Unicast to another host"
	case 4:
		return "Sent by us"
	}
	return "unknown"
}

// arphrdName names the ARPHRD_ hardware types seen in cooked captures.
func arphrdName(t uint16) string {
	switch t {
	case 1:
		return "Ethernet"
	case 772:
		return "Loopback"
	case 65534:
		return "None"
	case 776:
		return "IPv6-in-IPv4"
	case 778:
		return "GRE"
	}
	return "ARPHRD " + strconv.Itoa(int(t))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
