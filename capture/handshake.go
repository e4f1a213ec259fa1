package capture

// Handshake facts: what a flow's packets said about its connection since the flow entered
// the table (FlowDelta.Handshake). The detectors tell a failed attempt (a SYN answered by a
// RST, or left unanswered; a UDP probe answered by ICMP port unreachable) from a completed
// connection with them, without ever seeing a packet. "In" bits are about packets towards
// the Local endpoint, "Out" bits about packets from it; each Out bit is its In bit << 1.
const (
	HsSynIn      uint16 = 1 << iota // a SYN without ACK came in (a connection attempt to Local)
	HsSynOut                        // a SYN without ACK went out (Local tried to connect)
	HsSynAckIn                      // a SYN+ACK came in (the remote accepted)
	HsSynAckOut                     // a SYN+ACK went out (Local accepted)
	HsRstIn                         // a RST came in
	HsRstOut                        // a RST went out (e.g. a closed port's answer)
	HsAckIn                         // a segment with ACK and without SYN or RST came in (handshake completed, or data)
	HsAckOut                        // a segment with ACK and without SYN or RST went out
	HsUnreachIn                     // an ICMP port unreachable came in about this flow (Local's probe failed)
	HsUnreachOut                    // an ICMP port unreachable went out about this flow (the remote's probe failed)
)

// hsBits maps one TCP packet's flags to its handshake fact (0 for other protocols, whose
// flags are 0). It is branch-light and allocates nothing: it runs for every packet.
func hsBits(flags uint8, tx bool) uint16 {
	var b uint16
	switch {
	case flags == 0:
		return 0
	case flags&tcpRST != 0:
		b = HsRstIn
	case flags&(tcpSYN|tcpACK) == tcpSYN:
		b = HsSynIn
	case flags&(tcpSYN|tcpACK) == tcpSYN|tcpACK:
		b = HsSynAckIn
	case flags&tcpACK != 0:
		b = HsAckIn
	default:
		return 0
	}
	if tx {
		b <<= 1
	}
	return b
}

// markKey ORs the handshake fact bits into the flow fk when the table holds it (it creates
// no flow: an ICMP error about a flow never seen says nothing the detectors use), and makes
// the flow part of the interval's deltas.
func (t *flowTable) markKey(fk *fkey, h uint64, bits uint16) {
	tag := h >> 32
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := t.slots[i]
		if s == 0 {
			return
		}
		if s>>32 != tag {
			continue
		}
		idx := int32(s) - 1
		e := &t.entries[idx]
		if !e.key.equal(fk) {
			continue
		}
		e.hs |= bits
		if e.rxP|e.txP|e.rxPH|e.txPH == 0 && !e.marked {
			t.dirty = append(t.dirty, idx)
			e.marked = true
		}
		return
	}
}

// unreachable records an ICMP (or ICMPv6) port unreachable decoded into p: the flow of the
// packet it quotes is marked. The packets waiting to be accounted go into the table first,
// since the quoted probe may be among them.
func (l *loop) unreachable(p *pktInfo) {
	l.flushAcct()
	var k FlowKey
	probeTx := orient(l.c.local.Load(), p.iproto, p.isrc, p.isport, p.idst, p.idport, &k)
	bit := HsUnreachOut // the remote's probe to Local failed: Local said so
	if probeTx {
		bit = HsUnreachIn // Local's probe failed: the remote said so
	}
	fk := toFkey(&k)
	l.table.markKey(&fk, l.table.hash(&fk), bit)
}
