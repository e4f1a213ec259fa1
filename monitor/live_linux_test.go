//go:build linux

package monitor

import (
	"context"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/sampler"
)

// TestLiveRefreshAttribution runs the real sampler on this host (sock_diag, /proc/PID/fd) and
// real loopback sockets: a connection accepted by a dual-stack listener opened before the
// baseline resolves at once through the listener; its client side and an unconnected UDP
// socket bound to 0.0.0.0, opened after the baseline, miss the index, NeedRefresh asks for a
// refresh, Run answers with a refresh sample, and they resolve to this process.
func TestLiveRefreshAttribution(t *testing.T) {
	for _, noNetlink := range []bool{false, true} {
		name := "sock_diag"
		if noNetlink {
			name = "proc"
		}
		t.Run(name, func(t *testing.T) { liveRefresh(t, noNetlink) })
	}
}

func liveRefresh(t *testing.T, noNetlink bool) {
	ln, err := net.Listen("tcp", "[::]:0")
	if err != nil {
		t.Skipf("no dual-stack loopback listener: %v", err)
	}
	defer ln.Close()
	smp, err := sampler.New(sampler.Options{Interval: time.Hour, NoNetlink: noNetlink, NoDestroyEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	defer smp.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan *sampler.Sample, 4)
	go smp.Run(ctx, out)
	recv := func() *sampler.Sample {
		t.Helper()
		select {
		case s := <-out:
			return s
		case <-time.After(30 * time.Second): // a bound against a hang, not a timing check
			t.Fatal("no sample from the sampler")
		}
		return nil
	}
	st := New(Options{Capture: true})
	st.Apply(recv()) // the baseline: before the sockets below exist

	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	c, err := net.Dial("tcp4", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if s := <-accepted; s != nil {
		defer s.Close()
	}
	u, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()

	client := c.LocalAddr().(*net.TCPAddr).AddrPort()
	server := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	udp := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(u.LocalAddr().(*net.UDPAddr).Port))
	keys := []capture.FlowKey{
		{Proto: pTCP, Local: server, Remote: client}, // the accepted side
		{Proto: pTCP, Local: client, Remote: server}, // the client side
		{Proto: pUDP, Local: udp, Remote: netip.MustParseAddrPort("127.0.0.1:9")},
	}
	b := &capture.Batch{Start: time.Now(), End: time.Now()}
	for _, k := range keys {
		b.Flows = append(b.Flows, capture.FlowDelta{Key: k, RxBytes: 100, RxPackets: 1})
	}
	st.ApplyBatch(b)
	// the accepted side resolves at once through the dual-stack listener, which was in the
	// baseline; the client side and the UDP socket are new
	if !st.NeedRefresh() || st.Pending() != 2 {
		t.Fatalf("sockets opened after the last table: NeedRefresh %v, pending %d; want true, 2",
			st.NeedRefresh(), st.Pending())
	}
	if tk := st.Talkers(TalkerQuery{Filter: server.String() + " " + client.String()}); len(tk) != 1 || tk[0].PID != os.Getpid() {
		t.Errorf("accepted side before the refresh = %+v, want pid %d from the listener", tk, os.Getpid())
	}
	smp.RequestRefresh()
	r := recv()
	if !r.Refresh {
		t.Fatalf("answer to RequestRefresh is not a refresh sample: %+v", r)
	}
	st.Apply(r)
	if st.NeedRefresh() || st.Pending() != 0 {
		t.Errorf("after the refresh: NeedRefresh %v, pending %d", st.NeedRefresh(), st.Pending())
	}
	for _, k := range keys {
		got := Talker{}
		for _, tk := range st.Talkers(TalkerQuery{}) {
			if tk.Key == k {
				got = tk
			}
		}
		if got.PID != os.Getpid() || got.Comm == "" {
			t.Errorf("flow %v %v -> %v: pid %d comm %q, want %d", k.ProtoName(), k.Local, k.Remote, got.PID, got.Comm, os.Getpid())
		}
	}
}
