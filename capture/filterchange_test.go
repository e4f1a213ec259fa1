//go:build linux

package capture

import (
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/wiretop/wiretop/capture/internal/pcapgen"
)

// TestFilterChangeStartsAfresh: the packets collected under one packet
// filter never reach a batch labelled with the next one, even when the
// consumer is behind and the batches are being merged.
func TestFilterChangeStartsAfresh(t *testing.T) {
	c := newTestCapture(Options{}, linkEthernet)
	c.dlt = dltEthernet
	if err := c.SetPacketFilter("tcp"); err != nil {
		t.Fatal(err)
	}
	l := newTestLoop(c)
	out := make(chan *Batch) // never read: every batch after the first goes pending
	l.out = out
	g := pcapgen.NewGen(pcapgen.Options{Flows: 40, Seed: 3})
	feed := func(n int) {
		for i := 0; i < n; i++ {
			data, wire := g.Next()
			ci := gopacket.CaptureInfo{Timestamp: pcapgen.Start.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(data), Length: wire}
			l.packet(data, &ci)
		}
	}
	feed(300)
	l.emit(time.Time{}, pcapgen.Start) // no room: pending, with TCP packets
	if l.pending == nil || len(l.pending.Packets) == 0 || l.pending.PacketFilter != "tcp" {
		t.Fatalf("pending batch: %+v", l.pending)
	}
	feed(100) // more TCP packets, still in the raw ring
	if err := c.SetPacketFilter("udp"); err != nil {
		t.Fatal(err)
	}
	feed(300)
	b := l.build(time.Time{}, pcapgen.Start.Add(time.Second))
	if b.PacketFilter != "udp" {
		t.Fatalf("batch labelled %q, want udp", b.PacketFilter)
	}
	if len(b.Packets) == 0 || b.PacketsMatched != uint64(len(b.Packets)) {
		t.Fatalf("%d packets, %d matched: want the UDP packets since the change", len(b.Packets), b.PacketsMatched)
	}
	for _, p := range b.Packets {
		if p.Proto != "udp" {
			t.Fatalf("a %s packet collected under tcp reached the udp batch: %s", p.Proto, p.Summary)
		}
	}
	var flows uint64
	for _, f := range b.Flows {
		flows += f.Packets()
	}
	if flows != 700 {
		t.Errorf("flows count %d packets, want all 700: the filter must not touch accounting", flows)
	}
}
