package ui

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/muesli/termenv"

	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/monitor"
	"github.com/wiretop/wiretop/sampler"
)

func TestMain(m *testing.M) {
	// Plain text: the views compare without escape sequences, whatever the terminal.
	lipgloss.SetColorProfile(termenv.Ascii)
	lipgloss.SetHasDarkBackground(true)
	time.Local = time.UTC // the replays' clocks read the same on every machine
	os.Exit(m.Run())
}

// t0 is the time of the baseline sample of the fixtures.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// Processes of the fixture.
var fixtureProcs = map[int]*sampler.Proc{
	812:  {PID: 812, Comm: "nginx", Cmdline: "nginx: worker process", UID: 33, User: "www-data"},
	1500: {PID: 1500, Comm: "postgres", Cmdline: "postgres: 15/main: app app 10.0.0.7(51514) idle", UID: 116, User: "postgres"},
	4242: {PID: 4242, Comm: "curl", Cmdline: "curl -sO https://mirror.example.org/debian-12.iso", UID: 1000, User: "alice"},
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// fixtureSample returns sample i of a deterministic run: i == 0 is the baseline, then one
// sample per second. eth0 carries a download that ramps up and down, nginx serves three
// clients, curl downloads, postgres talks a little, one socket has no known owner, SYN-RECV
// grows from sample 3 on, and the accept queue overflows from sample 5.
func fixtureSample(i int) *sampler.Sample {
	s := &sampler.Sample{
		Time:     t0.Add(time.Duration(i) * time.Second),
		Baseline: i == 0,
		Procs:    fixtureProcs,
		Status:   sampler.Status{SocketSource: "sock_diag", DestroyEvents: true, AllProcesses: false},
	}
	if i > 0 {
		s.Elapsed = time.Second
		wave := 1 + math.Sin(float64(i)/3)
		s.Interfaces = []sampler.IfaceDelta{
			{Name: "eth0", RxBytes: uint64(1_500_000 * wave), RxPackets: uint64(1000 * wave), TxBytes: uint64(120_000 + 10_000*i), TxPackets: 300},
			{Name: "lo", RxBytes: 4096, RxPackets: 20, TxBytes: 4096, TxPackets: 20},
		}
		s.Kernel = sampler.KernelTCP{ActiveOpens: 2, PassiveOpens: 5, RetransSegs: uint64(3 * i), EstabResets: uint64(i % 2)}
		if i >= 5 {
			s.Kernel.ListenOverflows, s.Kernel.ListenDrops = 4, 4
		}
	}
	u := uint64(i)
	add := func(sk sampler.Socket) { s.Sockets = append(s.Sockets, sk) }
	add(sampler.Socket{Proto: sampler.ProtoTCP, State: sampler.StateListen, Local: ap("0.0.0.0:443"), Inode: 9000, UID: 33, Cookie: 1, HasInfo: true, PID: 812})
	add(sampler.Socket{Proto: sampler.ProtoTCP, State: sampler.StateListen, Local: ap("127.0.0.1:5432"), Inode: 9001, UID: 116, Cookie: 2, HasInfo: true, PID: 1500})
	for k := uint64(0); k < 3; k++ {
		add(sampler.Socket{
			Proto: sampler.ProtoTCP, State: sampler.StateEstablished,
			Local: ap("10.0.0.2:443"), Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + k)}), uint16(40000+k)),
			Inode: 9100 + k, UID: 33, Cookie: 100 + k, HasInfo: true, PID: 812,
			BytesAcked: 1_000_000 + u*(40_000+k*15_000), BytesReceived: 50_000 + u*(2_000+k*500),
		})
	}
	add(sampler.Socket{
		Proto: sampler.ProtoTCP, State: sampler.StateEstablished, Local: ap("10.0.0.2:51234"), Remote: ap("198.51.100.7:443"),
		Inode: 9200, UID: 1000, Cookie: 200, HasInfo: true, PID: 4242,
		BytesAcked: 800 + u*120, BytesReceived: u * u * 90_000,
	})
	add(sampler.Socket{
		Proto: sampler.ProtoTCP, State: sampler.StateEstablished, Local: ap("127.0.0.1:5432"), Remote: ap("127.0.0.1:40100"),
		Inode: 9300, UID: 116, Cookie: 300, HasInfo: true, PID: 1500,
		BytesAcked: u * 5_000, BytesReceived: u * 700,
	})
	add(sampler.Socket{ // a socket whose owner /proc does not show
		Proto: sampler.ProtoTCP, State: sampler.StateEstablished, Local: ap("10.0.0.2:22"), Remote: ap("192.0.2.50:60000"),
		Inode: 9400, UID: 0, Cookie: 400, HasInfo: true,
		BytesAcked: u * 3_000, BytesReceived: u * 1_000,
	})
	for k := 0; k < 2; k++ {
		add(sampler.Socket{Proto: sampler.ProtoTCP, State: sampler.StateCloseWait, Local: ap("127.0.0.1:5432"),
			Remote: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(41000+k)), Inode: 9500 + uint64(k), Cookie: 500 + uint64(k), PID: 1500})
	}
	for k := 0; k < 5+i%3; k++ {
		add(sampler.Socket{Proto: sampler.ProtoTCP, State: sampler.StateTimeWait, Local: ap("10.0.0.2:443"),
			Remote: netip.AddrPortFrom(netip.MustParseAddr("203.0.113.99"), uint16(30000+k))})
	}
	if i >= 3 {
		for k := 0; k < 2*(i-2); k++ {
			add(sampler.Socket{Proto: sampler.ProtoTCP, State: sampler.StateNewSynRecv, Local: ap("10.0.0.2:443"),
				Remote: netip.AddrPortFrom(netip.MustParseAddr("198.18.0.1"), uint16(20000+k))})
		}
	}
	add(sampler.Socket{Proto: sampler.ProtoUDP, State: sampler.StateClose, Local: ap("0.0.0.0:53"), Inode: 9600})
	return s
}

// fixtureState returns a State with samples 0..n of the fixture applied.
func fixtureState(n int) *monitor.State {
	st := monitor.New(monitor.Options{})
	for i := 0; i <= n; i++ {
		st.Apply(fixtureSample(i))
	}
	return st
}

// fixedClock is the wall clock of the tests: a little after the last fixture sample.
func fixedClock() time.Time { return t0.Add(45 * time.Second) }

// fixtureOptions are the options of the fixture models.
func fixtureOptions() Options {
	return Options{Interface: "eth0", Status: []string{"no capture"}, Interval: time.Second, Clock: fixedClock}
}

// fixtureModel returns a root model of w x h cells fed with samples 0..n.
func fixtureModel(n, w, h int) Model {
	return fixtureModelWith(NewModel(fixtureOptions()), n, w, h)
}

// fixtureModelWith sizes m to w x h cells and feeds it samples 0..n.
func fixtureModelWith(m Model, n, w, h int) Model {
	m = update(m, tea.WindowSizeMsg{Width: w, Height: h})
	for i := 0; i <= n; i++ {
		m = update(m, SampleMsg{fixtureSample(i)})
	}
	return m
}

// update runs one message through the model.
func update(m Model, msg tea.Msg) Model {
	next, _ := m.Update(msg)
	return next.(Model)
}

// keyMsg makes the key message of a key name as Bubble Tea spells it ("tab", "j", "shift+tab").
func keyMsg(k string) tea.KeyMsg {
	switch k {
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "shift+tab":
		return tea.KeyMsg{Type: tea.KeyShiftTab}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "backspace":
		return tea.KeyMsg{Type: tea.KeyBackspace}
	case "space":
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	case "ctrl+w":
		return tea.KeyMsg{Type: tea.KeyCtrlW}
	case "ctrl+u":
		return tea.KeyMsg{Type: tea.KeyCtrlU}
	case "left":
		return tea.KeyMsg{Type: tea.KeyLeft}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

// TestShowScreen prints the whole screen, for a look by eye (WIRETOP_FIVE=1 adds placeholder
// talkers and packets panes; WIRETOP_KEYS are pressed first, "space" for a blank):
// WIRETOP_SHOW=120x40 go test ./ui -run TestShowScreen -v
func TestShowScreen(t *testing.T) {
	size := os.Getenv("WIRETOP_SHOW")
	if size == "" {
		t.Skip("set WIRETOP_SHOW=WxH to print the screen")
	}
	var w, h int
	if _, err := fmt.Sscanf(size, "%dx%d", &w, &h); err != nil {
		t.Fatal(err)
	}
	var m Model
	switch os.Getenv("WIRETOP_FIVE") {
	case "":
		m = fixtureModelWith(NewModel(fixtureOptions()), 40, w, h)
	case "capture":
		m, _ = captureModel(40, w, h)
	default:
		m = fixtureModelWith(withPlaceholders(NewModel(fixtureOptions()), 500), 40, w, h)
	}
	for _, k := range strings.Fields(os.Getenv("WIRETOP_KEYS")) {
		m = update(m, keyMsg(k))
	}
	fmt.Println(m.View())
}

// fixtureFlow is a flow of the capture fixture, with its bytes each way per interval.
type fixtureFlow struct {
	proto         uint8
	local, remote string
	rx, tx        uint64 // bytes a second
}

// fixtureFlows are the flows of the sockets of fixtureSample, plus an unattributed UDP flow.
var fixtureFlows = []fixtureFlow{
	{6, "10.0.0.2:443", "203.0.113.10:40000", 2_000, 40_000},
	{6, "10.0.0.2:443", "203.0.113.11:40001", 2_500, 55_000},
	{6, "10.0.0.2:443", "203.0.113.12:40002", 3_000, 70_000},
	{6, "10.0.0.2:51234", "198.51.100.7:443", 1_200_000, 120},
	{6, "127.0.0.1:5432", "127.0.0.1:40100", 700, 5_000},
	{6, "10.0.0.2:22", "192.0.2.50:60000", 1_000, 3_000},
	{17, "10.0.0.2:5353", "192.0.2.53:53", 300, 120},
}

// fixtureBatch returns the capture batch of interval i (1..): the fixture's flows, and a
// few packets of them with their summaries.
func fixtureBatch(i int) *capture.Batch {
	b := &capture.Batch{
		Start: t0.Add(time.Duration(i-1) * time.Second), End: t0.Add(time.Duration(i) * time.Second),
		Stats: capture.Stats{Received: uint64(i) * 1_000},
	}
	for _, f := range fixtureFlows {
		k := capture.FlowKey{Proto: f.proto, Local: ap(f.local), Remote: ap(f.remote)}
		b.Flows = append(b.Flows, capture.FlowDelta{Key: k, RxBytes: f.rx, TxBytes: f.tx,
			RxPackets: f.rx/1400 + 1, TxPackets: f.tx/1400 + 1, First: t0, Last: b.End})
	}
	for j := 0; j < 3; j++ {
		f := fixtureFlows[(i+j)%len(fixtureFlows)]
		src, dst := ap(f.local), ap(f.remote)
		pk := capture.PacketSummary{
			Time: b.Start.Add(time.Duration(j*250+i) * time.Millisecond), Length: 66 + 100*j,
			Src: src.Addr(), Dst: dst.Addr(), SrcPort: src.Port(), DstPort: dst.Port(),
			LinkType: 1,
		}
		if f.proto == 6 {
			pk.Proto, pk.Flags = "tcp", "[P.]"
			pk.Summary = fmt.Sprintf("IP %s.%d > %s.%d: Flags [P.], seq %d, ack 1, win 502, length %d",
				src.Addr(), src.Port(), dst.Addr(), dst.Port(), 1000*i, pk.Length-54)
		} else {
			pk.Proto = "udp"
			pk.Summary = fmt.Sprintf("IP %s.%d > %s.%d: UDP, length %d", src.Addr(), src.Port(), dst.Addr(), dst.Port(), pk.Length-42)
		}
		pk.Data = packetBytes(f.proto, src, dst, uint32(1000*i), pk.Length)
		b.Packets = append(b.Packets, pk)
	}
	b.PacketsMatched = uint64(len(b.Packets))
	return b
}

// packetBytes builds an Ethernet frame of length bytes carrying TCP (PSH, ACK, with seq) or
// UDP from src to dst, as a capture would have kept it.
func packetBytes(proto uint8, src, dst netip.AddrPort, seq uint32, length int) []byte {
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{0, 0x16, 0x3e, 0, 0, 2}, DstMAC: net.HardwareAddr{0, 0x16, 0x3e, 0, 0, 1}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Id: uint16(seq), Flags: layers.IPv4DontFragment, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
	var l4 gopacket.SerializableLayer
	hdr := 14 + 20 + 8
	if proto == 6 {
		ip.Protocol = layers.IPProtocolTCP
		tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()), Seq: seq, Ack: 1, PSH: true, ACK: true, Window: 502}
		_ = tcp.SetNetworkLayerForChecksum(ip)
		l4, hdr = tcp, 14+20+20
	} else {
		ip.Protocol = layers.IPProtocolUDP
		udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
		_ = udp.SetNetworkLayerForChecksum(ip)
		l4 = udp
	}
	buf := gopacket.NewSerializeBuffer()
	payload := gopacket.Payload(make([]byte, max(length-hdr, 0)))
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, l4, payload); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// captureModel returns a model with capture on (a fakeCapture) fed with samples and batches
// 0..n, interleaved as a live run sends them: the batch of an interval, then its sample.
func captureModel(n, w, h int) (Model, *fakeCapture) {
	fc := &fakeCapture{packetFilter: "tcp or udp", viewing: true}
	opts := fixtureOptions()
	opts.Capture = fc
	m := NewModel(opts)
	m = update(m, run(m.Init()))
	m = update(m, tea.WindowSizeMsg{Width: w, Height: h})
	m = update(m, SampleMsg{fixtureSample(0)})
	for i := 1; i <= n; i++ {
		m = update(m, BatchMsg{fixtureBatch(i)})
		m = update(m, SampleMsg{fixtureSample(i)})
	}
	return m, fc
}
