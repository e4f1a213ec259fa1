package capture

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// The decoder is hand-rolled rather than a gopacket DecodingLayerParser: it
// needs a handful of fields per packet (addresses, ports, protocol, TCP flags,
// fragment offset), must not allocate, must walk IPv6 extension headers and
// stacked VLAN tags, and must survive any input (FuzzDecode). Writing those
// few bounds-checked reads by hand is shorter than wiring a dozen layers, and
// it cannot allocate behind our back.

// linkKind is how a link type's header is found.
type linkKind uint8

const (
	linkUnknown  linkKind = iota
	linkEthernet          // DLT_EN10MB
	linkSLL               // DLT_LINUX_SLL: 16-byte cooked v1 header
	linkSLL2              // DLT_LINUX_SLL2: 20-byte cooked v2 header
	linkNull              // DLT_NULL and DLT_LOOP: 4-byte address family
	linkRaw               // DLT_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6: IP directly
)

// Link-layer header types (DLT_ and LINKTYPE_ values) the decoder knows.
const (
	dltNull     = 0
	dltEthernet = 1
	dltRawBSD   = 12 // DLT_RAW on Linux and most systems
	dltRawOBSD  = 14 // DLT_RAW on OpenBSD
	dltRaw      = 101
	dltLoop     = 108
	dltSLL      = 113
	dltIPv4     = 228
	dltIPv6     = 229
	dltSLL2     = 276
)

func linkKindOf(dlt int) linkKind {
	switch dlt {
	case dltEthernet:
		return linkEthernet
	case dltSLL:
		return linkSLL
	case dltSLL2:
		return linkSLL2
	case dltNull, dltLoop:
		return linkNull
	case dltRaw, dltRawBSD, dltRawOBSD, dltIPv4, dltIPv6:
		return linkRaw
	}
	return linkUnknown
}

// Ethertypes.
const (
	etherIPv4   = 0x0800
	etherARP    = 0x0806
	etherVLAN   = 0x8100
	etherQinQ   = 0x88a8
	etherQinQ91 = 0x9100
	etherIPv6   = 0x86dd
)

// IP protocol numbers.
const (
	protoHopByHop = 0
	protoICMP     = 1
	protoTCP      = 6
	protoUDP      = 17
	protoDCCP     = 33
	protoRouting  = 43
	protoFragment = 44
	protoESP      = 50
	protoAH       = 51
	protoICMPv6   = 58
	protoNoNext   = 59
	protoDstOpts  = 60
	protoSCTP     = 132
	protoUDPLite  = 136
)

// TCP flag bits.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
	tcpURG = 0x20
	tcpECE = 0x40
	tcpCWR = 0x80
)

// pktInfo is what decode extracts from one packet. It is reused across
// packets; decode overwrites every field.
type pktInfo struct {
	isIP     bool   // an IPv4 or IPv6 header was found
	ipv6     bool   // the network header is IPv6
	frag     bool   // non-first fragment: no transport header
	hasL4    bool   // the transport header (ports) was read
	proto    uint8  // IP protocol number (after IPv6 extension headers)
	flags    uint8  // TCP flags
	sport    uint16 // source port
	dport    uint16 // destination port
	etype    uint16 // ethertype (or 0 when the link has none)
	src, dst netip.Addr
	l3, l4   int // offsets of the network and transport headers in data
	l4len    int // length of the network payload per the IP header (-1 if unknown)

	// An ICMP or ICMPv6 port unreachable, and the packet it quotes (handshake.go).
	unreach        bool
	iproto         uint8
	isport, idport uint16
	isrc, idst     netip.Addr
}

// decode parses data captured on a link of kind lk into p. It returns true
// when p describes an IP packet. It never panics and never allocates.
func decode(lk linkKind, data []byte, p *pktInfo) bool {
	*p = pktInfo{l4len: -1}
	off := 0
	var etype uint16
	switch lk {
	case linkEthernet:
		if len(data) < 14 {
			return false
		}
		etype = binary.BigEndian.Uint16(data[12:14])
		off = 14
	case linkSLL:
		if len(data) < 16 {
			return false
		}
		etype = binary.BigEndian.Uint16(data[14:16])
		off = 16
	case linkSLL2:
		if len(data) < 20 {
			return false
		}
		etype = binary.BigEndian.Uint16(data[0:2])
		off = 20
	case linkNull:
		if len(data) < 5 {
			return false
		}
		// The address family is in the capturing host's byte order (DLT_NULL)
		// or network order (DLT_LOOP), and AF_INET6 differs between systems:
		// the IP version nibble says it all.
		off = 4
		etype = ipEtherType(data[4])
	case linkRaw:
		if len(data) < 1 {
			return false
		}
		etype = ipEtherType(data[0])
	default:
		return false
	}
	// 802.1Q, 802.1ad (QinQ) and the old 0x9100 tags, stacked.
	for i := 0; i < 8 && (etype == etherVLAN || etype == etherQinQ || etype == etherQinQ91); i++ {
		if len(data) < off+4 {
			p.etype = etype
			return false
		}
		etype = binary.BigEndian.Uint16(data[off+2 : off+4])
		off += 4
	}
	p.etype = etype
	p.l3 = off
	switch etype {
	case etherIPv4:
		return decodeIPv4(data, off, p)
	case etherIPv6:
		return decodeIPv6(data, off, p)
	}
	return false
}

func ipEtherType(b byte) uint16 {
	switch b >> 4 {
	case 4:
		return etherIPv4
	case 6:
		return etherIPv6
	}
	return 0
}

func decodeIPv4(data []byte, off int, p *pktInfo) bool {
	if len(data) < off+20 || data[off]>>4 != 4 {
		return false
	}
	ihl := int(data[off]&0x0f) * 4
	if ihl < 20 || len(data) < off+ihl {
		return false
	}
	p.isIP = true
	p.src = netip.AddrFrom4([4]byte(data[off+12 : off+16]))
	p.dst = netip.AddrFrom4([4]byte(data[off+16 : off+20]))
	p.proto = data[off+9]
	total := int(binary.BigEndian.Uint16(data[off+2 : off+4]))
	if total >= ihl {
		p.l4len = total - ihl
	}
	if binary.BigEndian.Uint16(data[off+6:off+8])&0x1fff != 0 {
		p.frag = true
		p.l4 = off + ihl
		return true
	}
	decodeL4(data, off+ihl, p)
	return true
}

func decodeIPv6(data []byte, off int, p *pktInfo) bool {
	if len(data) < off+40 || data[off]>>4 != 6 {
		return false
	}
	p.isIP = true
	p.ipv6 = true
	p.src = netip.AddrFrom16([16]byte(data[off+8 : off+24]))
	p.dst = netip.AddrFrom16([16]byte(data[off+24 : off+40]))
	payload := int(binary.BigEndian.Uint16(data[off+4 : off+6]))
	nh := data[off+6]
	pos := off + 40
	end := pos + payload // where the payload ends per the header
	for i := 0; i < 16; i++ {
		switch nh {
		case protoHopByHop, protoRouting, protoDstOpts:
			if len(data) < pos+2 {
				p.proto = nh
				return true
			}
			next := data[pos]
			pos += (int(data[pos+1]) + 1) * 8
			nh = next
		case protoAH:
			if len(data) < pos+2 {
				p.proto = nh
				return true
			}
			next := data[pos]
			pos += (int(data[pos+1]) + 2) * 4
			nh = next
		case protoFragment:
			if len(data) < pos+8 {
				p.proto = nh
				return true
			}
			next := data[pos]
			fragOff := binary.BigEndian.Uint16(data[pos+2:pos+4]) >> 3
			pos += 8
			nh = next
			if fragOff != 0 {
				p.proto = nh
				p.frag = true
				p.l4 = pos
				if end >= pos {
					p.l4len = end - pos
				}
				return true
			}
		default:
			p.proto = nh
			if end >= pos {
				p.l4len = end - pos
			}
			decodeL4(data, pos, p)
			return true
		}
	}
	p.proto = nh
	return true
}

// decodeL4 reads ports and TCP flags at off, when they were captured.
func decodeL4(data []byte, off int, p *pktInfo) {
	p.l4 = off
	switch p.proto {
	case protoTCP, protoUDP, protoSCTP, protoDCCP, protoUDPLite:
		if off < 0 || len(data) < off+4 {
			return
		}
		p.sport = binary.BigEndian.Uint16(data[off : off+2])
		p.dport = binary.BigEndian.Uint16(data[off+2 : off+4])
		p.hasL4 = true
		if p.proto == protoTCP && len(data) >= off+14 {
			p.flags = data[off+13]
		}
	case protoICMP:
		// type 3 (destination unreachable), code 3 (port unreachable), RFC 792: the
		// quoted IPv4 header and the first 8 bytes of its payload follow the 8-byte header.
		if off >= 0 && !p.ipv6 && len(data) >= off+8+20 && data[off] == 3 && data[off+1] == 3 {
			decodeQuoted4(data, off+8, p)
		}
	case protoICMPv6:
		// type 1 (destination unreachable), code 4 (port unreachable), RFC 4443.
		if off >= 0 && p.ipv6 && len(data) >= off+8+40+4 && data[off] == 1 && data[off+1] == 4 {
			q := off + 8
			if data[q]>>4 == 6 && (data[q+6] == protoUDP || data[q+6] == protoTCP) {
				p.iproto = data[q+6]
				p.isrc = netip.AddrFrom16([16]byte(data[q+8 : q+24]))
				p.idst = netip.AddrFrom16([16]byte(data[q+24 : q+40]))
				p.isport = binary.BigEndian.Uint16(data[q+40 : q+42])
				p.idport = binary.BigEndian.Uint16(data[q+42 : q+44])
				p.unreach = true
			}
		}
	}
}

// decodeQuoted4 reads the IPv4 header and ports an ICMP error quotes at q.
func decodeQuoted4(data []byte, q int, p *pktInfo) {
	if data[q]>>4 != 4 {
		return
	}
	ihl := int(data[q]&0x0f) * 4
	proto := data[q+9]
	if ihl < 20 || len(data) < q+ihl+4 || (proto != protoUDP && proto != protoTCP) {
		return
	}
	p.iproto = proto
	p.isrc = netip.AddrFrom4([4]byte(data[q+12 : q+16]))
	p.idst = netip.AddrFrom4([4]byte(data[q+16 : q+20]))
	p.isport = binary.BigEndian.Uint16(data[q+ihl : q+ihl+2])
	p.idport = binary.BigEndian.Uint16(data[q+ihl+2 : q+ihl+4])
	p.unreach = true
}

// protoName names an IP protocol number as the JSON contract does.
func protoName(proto uint8) string {
	switch proto {
	case protoTCP:
		return "tcp"
	case protoUDP:
		return "udp"
	case protoICMP:
		return "icmp"
	case protoICMPv6:
		return "icmp6"
	case protoSCTP:
		return "sctp"
	case protoDCCP:
		return "dccp"
	case protoUDPLite:
		return "udplite"
	case 2:
		return "igmp"
	case 4:
		return "ipip"
	case 41:
		return "ipv6"
	case 47:
		return "gre"
	case protoESP:
		return "esp"
	case protoAH:
		return "ah"
	case 89:
		return "ospf"
	case 103:
		return "pim"
	case 112:
		return "vrrp"
	}
	return strconv.Itoa(int(proto))
}

// From linux/if_arp.h and linux/if_packet.h.
const (
	arphrdLoopback = 772 // ARPHRD_LOOPBACK
	packetOutgoing = 4   // PACKET_OUTGOING
)

// loopbackOutgoing says whether a Linux cooked packet (from "any") is the
// outgoing copy of a loopback packet: on lo each packet is seen going out and
// coming in, and only the copy coming in is counted. The cooked v1 header
// starts with the packet type and the ARPHRD type; v2 has the ARPHRD type at
// 8 and the packet type at 10.
func loopbackOutgoing(lk linkKind, data []byte) bool {
	switch lk {
	case linkSLL:
		return len(data) >= 16 && binary.BigEndian.Uint16(data[0:2]) == packetOutgoing &&
			binary.BigEndian.Uint16(data[2:4]) == arphrdLoopback
	case linkSLL2:
		return len(data) >= 20 && binary.BigEndian.Uint16(data[8:10]) == arphrdLoopback &&
			data[10] == packetOutgoing
	}
	return false
}
