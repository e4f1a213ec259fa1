package detect

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/monitor"
	"github.com/wiretop/wiretop/sampler"
)

// detfuzzTOMLBlocks returns the ```toml blocks of a Markdown file (the examples users copy).
func detfuzzTOMLBlocks(tb testing.TB, path string) []string {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("seed examples: %v", err)
	}
	var out []string
	for _, m := range regexp.MustCompile("(?s)```toml\n(.*?)```").FindAllStringSubmatch(string(data), -1) {
		out = append(out, m[1])
	}
	return out
}

// detfuzzErrLine matches a Load error: "FILE:LINE: " and the rest.
var detfuzzErrLine = regexp.MustCompile(`^f\.toml:(\d+): (.*)$`)

// FuzzRules loads arbitrary bytes as a --rules file (cfg false) and as a config file whose
// [rules] section is read (cfg true). Load must never panic; an error is one line that
// names the file and a line (or, at line 0, a key), and leaves the rules as they were; rules
// that load run through every detector without a panic.
func FuzzRules(f *testing.F) {
	docs := detfuzzTOMLBlocks(f, docPath)
	docs = append(docs, detfuzzTOMLBlocks(f, "../README.md")...)
	if len(docs) < 3 {
		f.Fatalf("found %d TOML examples in docs/detection.md and README.md, want at least 3", len(docs))
	}
	for _, d := range docs {
		f.Add([]byte(d), true)
		f.Add([]byte(d), false)
	}
	for _, d := range []string{
		"",
		"warm_up = \"0s\"\n",
		"[rules]\nwarm_up = \"2m\"\n[rules.port_scan]\nports = 5\n",
		"[portscan]\nports = 5\n",
		"[port_scan]\nport = 5\n",
		"[port_scan]\nports = 1\n",
		"[port_scan]\nwindow = 60\n",
		"[port_scan]\nwindow = \"-1s\"\n",
		"[syn_flood]\nclear = 1.5\n",
		"[brute_force]\nports = [22, 70000]\nattempts = 4611686018427387904\n",
		"[brute_force]\nports = [\"ssh\"]\n",
		"[brute_force]\nattempts = 9223372036854775807\n",
		"[brute_force]\nattempts = 4611686018427387904\nmax_bytes = 9223372036854775807\n",
		"[exfiltration]\nwindow = \"1ns\"\nlearn = \"0s\"\nbytes = 1\nmin_bytes = 1\n",
		"[threshold]\nenabled = true\ninterfaces = [\"eth0\", 1]\nlimit = 1e308\n",
		"[new_listener]\nallow_destinations = [\"::1\", \"10.0.0.0/33\", \"x\"]\n",
		"[reverse_shell]\nseverity = \"loud\"\nprograms = []\n",
		"port_scan.ports = 1\n",
		"port_scan = { ports = 1 }\n",
		"\"a\\nb\" = 1\n",
		"[\"port\\nscan\"]\nx = 1\n",
		"[port_scan]\n\"po\\nrts\" = 1\n",
		"[port_scan]\nports = [\"a\\nb\"]\n",
		"[port_scan]\nports = { a = \"x\\ny\" }\n",
		"[port_scan\nports = 1\n",
		"[[port_scan]]\nports = 1\n",
		"rules = 3\n",
		"[rules]\n[rules.rules]\n",
		"warm_up = 1979-05-27T07:32:00Z\n",
		"[errors_drops]\nshare = 0\n",
		"[errors_drops]\nshare = nan\nfloor = inf\n",
		"\xff\xfe[\x00",
		"\"\\",
		"a = 1\nb = \"\\\n",
	} {
		f.Add([]byte(d), false)
		f.Add([]byte(d), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, cfg bool) {
		prefix := ""
		if cfg {
			prefix = "rules"
		}
		rs := DefaultRules()
		before := rs.Settings()
		err := rs.Load(data, "f.toml", prefix)
		if err != nil {
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("error of more than one line: %q", msg)
			}
			m := detfuzzErrLine.FindStringSubmatch(msg)
			if m == nil {
				t.Fatalf("error %q does not start with FILE:LINE:", msg)
			}
			if m[1] == "0" && strings.Index(m[2], ": ") <= 0 {
				t.Fatalf("error %q names neither a line nor a key", msg)
			}
			if diff := cmp.Diff(before, rs.Settings()); diff != "" {
				t.Fatalf("a failed load (%v) changed the rules (-before +after):\n%s", err, diff)
			}
			return
		}
		_ = rs.Settings()
		// The loaded settings drive the detectors: none may panic on them.
		e := New(rs)
		bl := detfuzzBaselines{{ok: true, b: monitor.Baseline{Median: 1000, MAD: 10, Weeks: 3}}}
		t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		firing := map[string]bool{}
		for i, step := range []time.Duration{0, time.Second, time.Second, 10 * time.Minute, time.Second, time.Hour} {
			t0 = t0.Add(step)
			v := detfuzzProbeView(t0, i)
			v.Baselines = bl
			detfuzzCheckEval(t, e, v, t0, firing)
		}
	})
}

// detfuzzProbeView is one interval with something for every detector: a SYN flood on port
// 80, a scan of 30 ports, 30 short connections to ssh, busy and erring interfaces, a
// reverse shell, listeners, CLOSE-WAIT and SYN-SENT in a process and an upload.
func detfuzzProbeView(now time.Time, i int) *View {
	local := netip.MustParseAddr("198.18.0.1")
	v := &View{Time: now, Elapsed: time.Second, Start: now.Add(-time.Duration(i) * time.Second), Sockets: true, Capture: true,
		TCPStates: map[string]int{"SYN-RECV": 1000, "SYN-SENT": 200, "ESTAB": 100000},
		Kernel:    sampler.KernelTCP{SyncookiesSent: 5000, TCPReqQFullDrop: 100, ActiveOpens: 9000, PassiveOpens: 9000},
		Ifaces: []sampler.IfaceDelta{{Name: "eth0", RxBytes: 1 << 30, TxBytes: 1 << 30, RxPackets: 1000, RxErrors: 500},
			{Name: "lo", RxBytes: 1 << 32}},
		Listeners:   []monitor.Listener{{Proto: "tcp", Local: netip.AddrPortFrom(local, uint16(1000+i)), PID: 7, Comm: "nc"}, {Proto: "udp", Local: netip.AddrPortFrom(local, 53)}},
		Procs:       []monitor.ProcConns{{PID: 7, Comm: "app", CloseWait: 500, SynSent: 500, Estab: 3}},
		Stdio:       []monitor.StdioConn{{PID: 9, Comm: "bash", Local: netip.AddrPortFrom(local, 40000), Remote: netip.MustParseAddrPort("198.18.0.9:4444")}},
		Remotes:     []monitor.RemoteBytes{{Remote: netip.MustParseAddr("198.18.0.8"), TxBytes: 1 << 32, RxBytes: 10, PID: 5, Comm: "curl"}},
		CapReceived: 1000, CapDropped: 500,
	}
	for j := range 300 {
		src := netip.AddrFrom4([4]byte{198, 19, byte(j >> 8), byte(j)})
		v.Flows = append(v.Flows,
			monitor.FlowFact{Key: capture.FlowKey{Proto: 6, Local: netip.AddrPortFrom(local, 80), Remote: netip.AddrPortFrom(src, 1024)},
				Handshake: capture.HsSynIn | capture.HsSynAckOut, Flags: 0x02},
			monitor.FlowFact{Key: capture.FlowKey{Proto: 6, Local: netip.AddrPortFrom(local, uint16(j+1)), Remote: netip.MustParseAddrPort("198.18.0.7:5000")},
				Handshake: capture.HsSynIn | capture.HsRstOut, Flags: 0x06},
			monitor.FlowFact{Key: capture.FlowKey{Proto: 17, Local: netip.AddrPortFrom(local, 5000), Remote: netip.AddrPortFrom(netip.MustParseAddr("198.18.0.6"), uint16(j+1))},
				Handshake: capture.HsUnreachIn, PID: 11, Comm: "nmap"},
			monitor.FlowFact{Key: capture.FlowKey{Proto: 6, Local: netip.AddrPortFrom(local, 22), Remote: netip.AddrPortFrom(netip.MustParseAddr("198.18.0.5"), uint16(30000+j))},
				Handshake: capture.HsSynIn | capture.HsSynAckOut | capture.HsAckIn, Flags: 0x13, RxBytes: 2000, TxBytes: 2000})
	}
	return v
}

// detfuzzCheckEval runs one Eval and checks what it returns against firing (the keys firing
// before it, updated): each key at most once, firing only for a key not firing, resolved
// only for a firing one, every evidence encodes to JSON (what the sinks write); the alerts
// held (Current's) agree with firing and are at most MaxAlertsPerRule per rule.
func detfuzzCheckEval(t *testing.T, e *Engine, v *View, now time.Time, firing map[string]bool) []Alert {
	t.Helper()
	dropped := e.Dropped
	out := e.Eval(v, now)
	once := map[string]bool{}
	for _, a := range out {
		if once[a.Key] {
			t.Fatalf("%v: key %s returned twice by one Eval", now, a.Key)
		}
		once[a.Key] = true
		if !strings.HasPrefix(a.Key, a.Rule+"/") {
			t.Fatalf("key %q of rule %q", a.Key, a.Rule)
		}
		switch a.State {
		case Firing:
			if firing[a.Key] {
				t.Fatalf("%v: %s announced firing while already firing", now, a.Key)
			}
			firing[a.Key] = true
		case Resolved:
			if !firing[a.Key] {
				t.Fatalf("%v: %s resolved, but it was not firing", now, a.Key)
			}
			if !a.Resolved.Equal(now) {
				t.Fatalf("%s resolved at %v, the interval ends %v", a.Key, a.Resolved, now)
			}
			delete(firing, a.Key)
		default:
			t.Fatalf("Eval returned %s in state %q", a.Key, a.State)
		}
		if _, err := json.Marshal(a.Evidence); err != nil {
			t.Fatalf("%s: evidence %v does not encode: %v", a.Key, a.Evidence, err)
		}
	}
	if e.Dropped < dropped {
		t.Fatalf("Dropped went down from %d to %d", dropped, e.Dropped)
	}
	perRule := map[string]int{}
	nFiring := 0
	for key, en := range e.alerts { // what Current returns, without copying every evidence
		a := en.alert
		if a.Key != key {
			t.Fatalf("alert %s held under the key %s", a.Key, key)
		}
		perRule[a.Rule]++
		if a.State == Firing {
			nFiring++
			if !firing[a.Key] {
				t.Fatalf("Current has %s firing, but its firing was never announced", a.Key)
			}
		}
	}
	if perRule[""] != 0 {
		t.Fatalf("%d alerts without a rule", perRule[""])
	}
	if nFiring != len(firing) {
		t.Fatalf("Current has %d alerts firing, %d were announced and not resolved", nFiring, len(firing))
	}
	for r, n := range perRule {
		if n > MaxAlertsPerRule || n != e.perRule[detfuzzRuleIndex(e, r)] {
			t.Fatalf("rule %s holds %d alerts, more than MaxAlertsPerRule %d", r, n, MaxAlertsPerRule)
		}
	}
	return out
}

func detfuzzRuleIndex(e *Engine, name string) int {
	for i, r := range e.rules {
		if r.Name == name {
			return i
		}
	}
	return -1
}

// detfuzzBaselines answers every question with one of its entries (chosen by the metric
// and key), so that the rules that need history run on arbitrary values.
type detfuzzBaselines []struct {
	ok bool
	b  monitor.Baseline
}

func (d detfuzzBaselines) Baseline(m monitor.Metric, key string, at time.Time) (monitor.Baseline, bool) {
	if len(d) == 0 {
		return monitor.Baseline{}, false
	}
	h := len(m) + len(key)
	for _, c := range key {
		h += int(c)
	}
	e := d[h%len(d)]
	b := e.b
	b.Metric, b.Key, b.At = m, key, at
	return b, e.ok
}

// detfuzzCodec reads a fuzz input into a spec, or writes a spec out as the input that
// reads back as it (for seeds): detfuzzWalk is the one description of the format.
type detfuzzCodec struct {
	write bool
	buf   []byte
}

func (c *detfuzzCodec) done() bool { return !c.write && len(c.buf) == 0 }

func (c *detfuzzCodec) bytes(p []byte) {
	if c.write {
		c.buf = append(c.buf, p...)
		return
	}
	n := copy(p, c.buf)
	clear(p[n:])
	c.buf = c.buf[n:]
}

func (c *detfuzzCodec) u8(p *uint8) {
	b := []byte{*p}
	c.bytes(b)
	*p = b[0]
}

func (c *detfuzzCodec) u16(p *uint16) {
	b := binary.BigEndian.AppendUint16(nil, *p)
	c.bytes(b)
	*p = binary.BigEndian.Uint16(b)
}

func (c *detfuzzCodec) u64(p *uint64) {
	b := binary.BigEndian.AppendUint64(nil, *p)
	c.bytes(b)
	*p = binary.BigEndian.Uint64(b)
}

// num is a number in one byte, m<<(4e) for the byte em (e its high nibble, m its low one):
// 0 to 15<<56 in coarse steps, what counters and sizes need; the byte 0xff is followed by
// the number's 8 bytes (any value: an overflow, a negative duration, a NaN's bits).
func (c *detfuzzCodec) num(p *uint64) {
	b := uint8(0xff)
	if c.write {
		for e := range uint64(16) {
			if m := *p >> (4 * e); m < 16 && m<<(4*e) == *p && (m != 15 || e != 15) {
				b = uint8(e<<4 | m)
				break
			}
		}
	}
	c.u8(&b)
	if b == 0xff {
		c.u64(p)
		return
	}
	*p = uint64(b&15) << (4 * uint64(b>>4))
}

// list walks a list of n items: the count is one byte (n%max items are read).
func detfuzzList[T any](c *detfuzzCodec, l *[]T, max int, walk func(*T)) {
	n := uint8(len(*l))
	c.u8(&n)
	if !c.write {
		*l = make([]T, int(n)%(max+1))
	}
	for i := range *l {
		walk(&(*l)[i])
	}
}

// detfuzzAddr is an address: Sel below 0x80 picks one of detfuzzPool (the last is the
// invalid address), 0x80-0xbf an IPv4 address from Raw[:4], above an IPv6 one from Raw.
type detfuzzAddr struct {
	Sel uint8
	Raw [16]byte
}

var detfuzzPool = []netip.Addr{
	netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.0.3"),
	netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"),
	netip.MustParseAddr("::ffff:198.18.0.2"), netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1"),
	netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("::"), netip.MustParseAddr("fe80::1%eth0"), {},
}

func (a *detfuzzAddr) walk(c *detfuzzCodec) {
	c.u8(&a.Sel)
	switch {
	case a.Sel >= 0xc0:
		c.bytes(a.Raw[:])
	case a.Sel >= 0x80:
		c.bytes(a.Raw[:4])
	}
}

func (a *detfuzzAddr) addr() netip.Addr {
	switch {
	case a.Sel >= 0xc0:
		return netip.AddrFrom16(a.Raw)
	case a.Sel >= 0x80:
		return netip.AddrFrom4([4]byte(a.Raw[:4]))
	}
	return detfuzzPool[int(a.Sel)%len(detfuzzPool)]
}

// detfuzzPlus returns a + i (in its last 32 bits; the invalid address stays invalid).
func detfuzzPlus(a netip.Addr, i int) netip.Addr {
	switch {
	case !a.IsValid() || i == 0:
		return a
	case a.Is4():
		b := a.As4()
		binary.BigEndian.PutUint32(b[:], binary.BigEndian.Uint32(b[:])+uint32(i))
		return netip.AddrFrom4(b)
	}
	b := a.As16()
	binary.BigEndian.PutUint32(b[12:], binary.BigEndian.Uint32(b[12:])+uint32(i))
	return netip.AddrFrom16(b).WithZone(a.Zone())
}

var detfuzzComms = []string{"bash", "sh", "python3.11", "nc", "sshd", "curl", "nginx", "", "perl5.36", "node", "x\ny\"z", "socat", "busybox"}

func detfuzzComm(i uint8) string { return detfuzzComms[int(i)%len(detfuzzComms)] }

// detfuzzRep is a repeat count: 1 + Rep&0x7f, times 32 when Rep's top bit is set (up to 4096).
func detfuzzRep(rep uint8) int {
	n := 1 + int(rep&0x7f)
	if rep&0x80 != 0 {
		n *= 32
	}
	return n
}

// Vary bits of a template: which fields count up with the repetition.
const (
	detfuzzVaryRemote     = 1 << iota // the remote (source) address
	detfuzzVaryRemotePort             // the remote port
	detfuzzVaryLocalPort              // the local port
	detfuzzVaryLocal                  // the local address
	detfuzzVaryPID                    // the process id
)

type detfuzzFlow struct {
	Rep, Vary, Proto, Flags, PID, Comm uint8
	Local, Remote                      detfuzzAddr
	LPort, RPort, Hs                   uint16
	Rx, Tx, RxTotal, TxTotal           uint64
}

func (f *detfuzzFlow) walk(c *detfuzzCodec) {
	c.u8(&f.Rep)
	c.u8(&f.Vary)
	c.u8(&f.Proto)
	f.Local.walk(c)
	c.u16(&f.LPort)
	f.Remote.walk(c)
	c.u16(&f.RPort)
	c.u16(&f.Hs)
	c.u8(&f.Flags)
	c.num(&f.Rx)
	c.num(&f.Tx)
	c.num(&f.RxTotal)
	c.num(&f.TxTotal)
	c.u8(&f.PID)
	c.u8(&f.Comm)
}

type detfuzzIface struct {
	Name uint8
	N    [8]uint64
}

type detfuzzListener struct {
	Rep, Vary, Proto, Comm uint8
	Local                  detfuzzAddr
	Port, PID              uint16
}

type detfuzzProc struct {
	Rep, Vary, Comm           uint8
	PID, Estab, CW, SynSent   uint16
	CWBig, SynSentBig, Unused uint8
}

type detfuzzStdio struct {
	Rep, Vary, Comm, User uint8
	PID, LPort, RPort     uint16
	Local, Remote         detfuzzAddr
}

type detfuzzRemote struct {
	Rep, Vary, Comm uint8
	Addr            detfuzzAddr
	Rx, Tx          uint64
	PID             uint16
}

// detfuzzBase is a baseline: OK's bit 0 says there is one, bit 1 that the numbers are
// float64 bits (NaN, infinities), else they are the numbers.
type detfuzzBase struct {
	OK, Weeks          uint8
	Median, MAD, Y, LW uint64
}

func (b *detfuzzBase) value() (monitor.Baseline, bool, bool) {
	f := func(x uint64) float64 {
		if b.OK&2 != 0 {
			return math.Float64frombits(x)
		}
		return float64(x)
	}
	v := monitor.Baseline{Median: f(b.Median), MAD: f(b.MAD), Weeks: int(b.Weeks) % 16, Yesterday: f(b.Y), LastWeek: f(b.LW),
		HaveYesterday: b.OK&4 != 0, HaveLastWeek: b.OK&8 != 0}
	finite := true
	for _, x := range []float64{v.Median, v.MAD, v.Yesterday, v.LastWeek} {
		finite = finite && !math.IsNaN(x) && !math.IsInf(x, 0)
	}
	return v, b.OK&1 != 0, finite
}

// detfuzzInterval is one interval of a fuzz input. Op: bits 0-2 the step of the clock (0,
// 1 s, Step ms, 1 min, Step s, Step ns, 10 s, 5 min), bits 3-4 the interval's length (the
// step, 0, Elapsed ns as a signed number, 1 s), bits 5-7 how many more times the same view
// is evaluated, each a step later. Mask says which parts of the view are present.
type detfuzzInterval struct {
	Op, Mask, StartZero uint8
	Step, Elapsed       uint64
	Ifaces              []detfuzzIface
	States              [4]uint64
	Kernel              [13]uint64
	Listeners           []detfuzzListener
	Procs               []detfuzzProc
	Stdio               []detfuzzStdio
	Cap                 [3]uint64
	Flows               []detfuzzFlow
	FlowsDropped        uint64
	Remotes             []detfuzzRemote
	RemotesDropped      uint64
	Bases               []detfuzzBase
}

// The parts of a view, in detfuzzInterval.Mask.
const (
	detfuzzHasIfaces = 1 << iota
	detfuzzHasStates
	detfuzzHasKernel
	detfuzzHasSockets
	detfuzzHasCapture
	detfuzzHasFlows
	detfuzzHasRemotes
	detfuzzHasBaselines
)

func (iv *detfuzzInterval) walk(c *detfuzzCodec) {
	c.u8(&iv.Op)
	if m := iv.Op & 7; m == 2 || m == 4 || m == 5 {
		c.num(&iv.Step)
	}
	if (iv.Op>>3)&3 == 2 {
		c.num(&iv.Elapsed)
	}
	c.u8(&iv.Mask)
	c.u8(&iv.StartZero)
	if iv.Mask&detfuzzHasIfaces != 0 {
		detfuzzList(c, &iv.Ifaces, 4, func(f *detfuzzIface) {
			c.u8(&f.Name)
			for i := range f.N {
				c.num(&f.N[i])
			}
		})
	}
	if iv.Mask&detfuzzHasStates != 0 {
		for i := range iv.States {
			c.num(&iv.States[i])
		}
	}
	if iv.Mask&detfuzzHasKernel != 0 {
		for i := range iv.Kernel {
			c.num(&iv.Kernel[i])
		}
	}
	if iv.Mask&detfuzzHasSockets != 0 {
		detfuzzList(c, &iv.Listeners, 8, func(l *detfuzzListener) {
			c.u8(&l.Rep)
			c.u8(&l.Vary)
			c.u8(&l.Proto)
			l.Local.walk(c)
			c.u16(&l.Port)
			c.u16(&l.PID)
			c.u8(&l.Comm)
		})
		detfuzzList(c, &iv.Procs, 8, func(p *detfuzzProc) {
			c.u8(&p.Rep)
			c.u8(&p.Vary)
			c.u16(&p.PID)
			c.u8(&p.Comm)
			c.u16(&p.Estab)
			c.u16(&p.CW)
			c.u16(&p.SynSent)
		})
		detfuzzList(c, &iv.Stdio, 8, func(s *detfuzzStdio) {
			c.u8(&s.Rep)
			c.u8(&s.Vary)
			c.u16(&s.PID)
			c.u8(&s.Comm)
			c.u8(&s.User)
			s.Local.walk(c)
			c.u16(&s.LPort)
			s.Remote.walk(c)
			c.u16(&s.RPort)
		})
	}
	if iv.Mask&detfuzzHasCapture != 0 {
		for i := range iv.Cap {
			c.num(&iv.Cap[i])
		}
	}
	if iv.Mask&detfuzzHasFlows != 0 {
		detfuzzList(c, &iv.Flows, 16, func(f *detfuzzFlow) { f.walk(c) })
		c.num(&iv.FlowsDropped)
	}
	if iv.Mask&detfuzzHasRemotes != 0 {
		detfuzzList(c, &iv.Remotes, 8, func(r *detfuzzRemote) {
			c.u8(&r.Rep)
			c.u8(&r.Vary)
			r.Addr.walk(c)
			c.num(&r.Rx)
			c.num(&r.Tx)
			c.u16(&r.PID)
			c.u8(&r.Comm)
		})
		c.num(&iv.RemotesDropped)
	}
	if iv.Mask&detfuzzHasBaselines != 0 {
		detfuzzList(c, &iv.Bases, 4, func(b *detfuzzBase) {
			c.u8(&b.OK)
			c.u8(&b.Weeks)
			c.num(&b.Median)
			c.num(&b.MAD)
			c.num(&b.Y)
			c.num(&b.LW)
		})
	}
}

// detfuzzInput is a whole fuzz input: the rules variant (bit 0: every For, Hold and
// learning period 0 and the windows short), then intervals until the bytes run out.
type detfuzzInput struct {
	Variant   uint8
	Intervals []detfuzzInterval
}

// Bounds of one input's work, so that an execution takes well under a millisecond: the
// bytes read, its intervals (each may be evaluated 8 times), its evaluations, and the items
// (flows, listeners, processes, stdio connections, remotes) of all its views together. (The go command minimizes every
// new interesting input for up to a minute: at 100 ms an execution, that took a whole
// -fuzztime 60s. TestSpoofedFloodStateBounded runs the floods of MaxFlowFacts.)
const (
	detfuzzMaxIntervals = 64
	detfuzzMaxInput     = 1024
	detfuzzMaxEvals     = 64
	detfuzzMaxItems     = 1 << 12
)

func detfuzzDecode(data []byte) detfuzzInput {
	c := &detfuzzCodec{buf: data[:min(len(data), detfuzzMaxInput)]}
	var in detfuzzInput
	c.u8(&in.Variant)
	for !c.done() && len(in.Intervals) < detfuzzMaxIntervals {
		var iv detfuzzInterval
		iv.walk(c)
		in.Intervals = append(in.Intervals, iv)
	}
	return in
}

func detfuzzEncode(in detfuzzInput) []byte {
	c := &detfuzzCodec{write: true}
	c.u8(&in.Variant)
	for i := range in.Intervals {
		in.Intervals[i].walk(c)
	}
	return c.buf
}

var detfuzzIfNames = []string{"eth0", "lo", "wlan0", "", "veth-with-a-long-name0"}

// view builds the interval's view ending at now.
// budget is the items (flows, listeners, ...) the input may still add over all its intervals.
func (iv *detfuzzInterval) view(now, start time.Time, step time.Duration, budget *int) (*View, bool) {
	more := func() bool { *budget--; return *budget >= 0 }
	v := &View{Time: now, Start: start, Elapsed: step}
	if iv.StartZero&1 != 0 {
		v.Start = time.Time{}
	}
	switch (iv.Op >> 3) & 3 {
	case 1:
		v.Elapsed = 0
	case 2:
		v.Elapsed = time.Duration(int64(iv.Elapsed))
	case 3:
		v.Elapsed = time.Second
	}
	for _, f := range iv.Ifaces {
		n := f.N
		v.Ifaces = append(v.Ifaces, sampler.IfaceDelta{Name: detfuzzIfNames[int(f.Name)%len(detfuzzIfNames)], RxBytes: n[0], RxPackets: n[1],
			RxErrors: n[2], RxDropped: n[3], TxBytes: n[4], TxPackets: n[5], TxErrors: n[6], TxDropped: n[7]})
	}
	if iv.Mask&detfuzzHasStates != 0 {
		v.TCPStates = map[string]int{}
		for i, name := range []string{"SYN-RECV", "SYN-SENT", "ESTAB", "CLOSE-WAIT"} {
			v.TCPStates[name] = int(iv.States[i] % (1 << 32))
		}
	}
	k := iv.Kernel
	v.Kernel = sampler.KernelTCP{ActiveOpens: k[0], PassiveOpens: k[1], AttemptFails: k[2], EstabResets: k[3], RetransSegs: k[4],
		InErrs: k[5], OutRsts: k[6], ListenOverflows: k[7], ListenDrops: k[8], SyncookiesSent: k[9], SyncookiesRecv: k[10],
		SyncookiesFailed: k[11], TCPReqQFullDrop: k[12]}
	v.Sockets = iv.Mask&detfuzzHasSockets != 0
	for _, l := range iv.Listeners {
		proto := [...]string{"tcp", "udp", "tcp", "raw"}[l.Proto%4]
		for i := range detfuzzRep(l.Rep) {
			if !more() {
				break
			}
			port, pid := l.Port, int(l.PID)
			if l.Vary&detfuzzVaryLocalPort != 0 {
				port += uint16(i)
			}
			if l.Vary&detfuzzVaryPID != 0 {
				pid += i
			}
			v.Listeners = append(v.Listeners, monitor.Listener{Proto: proto, Local: netip.AddrPortFrom(l.Local.addr(), port), PID: pid, Comm: detfuzzComm(l.Comm)})
		}
	}
	for _, p := range iv.Procs {
		for i := range detfuzzRep(p.Rep) {
			if !more() {
				break
			}
			pid := int(p.PID)
			if p.Vary&detfuzzVaryPID != 0 {
				pid += i
			}
			v.Procs = append(v.Procs, monitor.ProcConns{PID: pid, Comm: detfuzzComm(p.Comm), Estab: int(p.Estab), CloseWait: int(p.CW), SynSent: int(p.SynSent)})
		}
	}
	for _, s := range iv.Stdio {
		for i := range detfuzzRep(s.Rep) {
			if !more() {
				break
			}
			pid, rport, remote := int(s.PID), s.RPort, s.Remote.addr()
			if s.Vary&detfuzzVaryPID != 0 {
				pid += i
			}
			if s.Vary&detfuzzVaryRemotePort != 0 {
				rport += uint16(i)
			}
			if s.Vary&detfuzzVaryRemote != 0 {
				remote = detfuzzPlus(remote, i)
			}
			v.Stdio = append(v.Stdio, monitor.StdioConn{PID: pid, Comm: detfuzzComm(s.Comm), Cmdline: detfuzzComm(s.Comm) + " -i",
				User: detfuzzComm(s.User), Local: netip.AddrPortFrom(s.Local.addr(), s.LPort), Remote: netip.AddrPortFrom(remote, rport)})
		}
	}
	if iv.Mask&detfuzzHasCapture != 0 {
		v.Capture = true
		v.CapReceived, v.CapDropped, v.CapIfDropped = iv.Cap[0], iv.Cap[1], iv.Cap[2]
	}
	for _, f := range iv.Flows {
		proto := [...]uint8{6, 6, 17, f.Proto}[f.Proto%4]
		for i := range detfuzzRep(f.Rep) {
			if len(v.Flows) >= monitor.MaxFlowFacts || !more() {
				break
			}
			local, remote, lport, rport, pid := f.Local.addr(), f.Remote.addr(), f.LPort, f.RPort, int(f.PID)
			if f.Vary&detfuzzVaryRemote != 0 {
				remote = detfuzzPlus(remote, i)
			}
			if f.Vary&detfuzzVaryLocal != 0 {
				local = detfuzzPlus(local, i)
			}
			if f.Vary&detfuzzVaryRemotePort != 0 {
				rport += uint16(i)
			}
			if f.Vary&detfuzzVaryLocalPort != 0 {
				lport += uint16(i)
			}
			if f.Vary&detfuzzVaryPID != 0 {
				pid += i
			}
			v.Flows = append(v.Flows, monitor.FlowFact{Key: capture.FlowKey{Proto: proto, Local: netip.AddrPortFrom(local, lport), Remote: netip.AddrPortFrom(remote, rport)},
				Handshake: f.Hs, Flags: f.Flags, RxBytes: f.Rx, TxBytes: f.Tx, RxTotal: f.RxTotal, TxTotal: f.TxTotal,
				First: now.Add(-step), Last: now, PID: pid, Comm: detfuzzComm(f.Comm)})
		}
	}
	v.FlowFactsDropped = int(iv.FlowsDropped % (1 << 32))
	v.FlowOverflowPackets = iv.FlowsDropped >> 8
	for _, r := range iv.Remotes {
		for i := range detfuzzRep(r.Rep) {
			if !more() {
				break
			}
			a := r.Addr.addr()
			if r.Vary&detfuzzVaryRemote != 0 {
				a = detfuzzPlus(a, i)
			}
			v.Remotes = append(v.Remotes, monitor.RemoteBytes{Remote: a, RxBytes: r.Rx, TxBytes: r.Tx, PID: int(r.PID), Comm: detfuzzComm(r.Comm)})
		}
	}
	v.RemotesDropped = int(iv.RemotesDropped % (1 << 32))
	finite := true
	if iv.Mask&detfuzzHasBaselines != 0 {
		bl := detfuzzBaselines{}
		for _, b := range iv.Bases {
			val, ok, fin := b.value()
			finite = finite && fin
			bl = append(bl, struct {
				ok bool
				b  monitor.Baseline
			}{ok, val})
		}
		v.Baselines = bl
	}
	return v, finite
}

// step is the clock's step before the interval.
func (iv *detfuzzInterval) step() time.Duration {
	switch iv.Op & 7 {
	case 1:
		return time.Second
	case 2:
		return time.Duration(iv.Step%(1<<32)) * time.Millisecond
	case 3:
		return time.Minute
	case 4:
		return time.Duration(iv.Step%(1<<32)) * time.Second // up to 136 years
	case 5:
		return time.Duration(iv.Step & math.MaxInt64) // up to 292 years
	case 6:
		return 10 * time.Second
	case 7:
		return 5 * time.Minute
	}
	return 0
}

// detfuzzRules is DefaultRules with every rule on (threshold too) and no warm-up; variant
// bit 0 also sets every For, Hold and learning period to 0 and the windows to a few seconds,
// so that short inputs reach every transition.
func detfuzzRules(variant uint8) *RuleSet {
	rs := DefaultRules()
	rs.WarmUp = 0
	for _, r := range rs.Rules {
		r.Enabled = true
		if variant&1 == 0 {
			continue
		}
		r.For, r.Hold = 0, 0
		switch d := r.Detector.(type) {
		case *portScan:
			d.Window = 3 * time.Second
		case *bruteForce:
			d.Window = 3 * time.Second
		case *newListener:
			d.Learn = 0
		case *exfiltration:
			d.Learn, d.Window = 0, 16*time.Second
		}
	}
	return rs
}

// detfuzzRun evaluates the input interval by interval, checking each Eval and the
// detectors' bounds; it returns the transitions, one line each.
func detfuzzRun(t *testing.T, data []byte) []string {
	in := detfuzzDecode(data)
	e := New(detfuzzRules(in.Variant))
	firing := map[string]bool{}
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	start := now
	var log []string
	budget, evals := detfuzzMaxItems, 0
	for _, iv := range in.Intervals {
		for range 1 + int(iv.Op>>5) {
			if evals++; evals > detfuzzMaxEvals {
				return log
			}
			step := iv.step()
			now = now.Add(step)
			v, _ := iv.view(now, start, step, &budget)
			for _, a := range detfuzzCheckEval(t, e, v, now, firing) {
				log = append(log, string(a.State)+" "+a.Key)
			}
			detfuzzCheckBounds(t, e)
		}
	}
	detfuzzCheckCurrent(t, e)
	return log
}

// detfuzzCheckCurrent checks Current: each key once, newest first, states of the lifecycle.
func detfuzzCheckCurrent(t *testing.T, e *Engine) {
	t.Helper()
	held := map[string]bool{}
	cur := e.Current()
	for i, a := range cur {
		if held[a.Key] {
			t.Fatalf("Current holds %s twice", a.Key)
		}
		held[a.Key] = true
		if a.State != Pending && a.State != Firing && a.State != Resolved {
			t.Fatalf("Current holds %s in state %q", a.Key, a.State)
		}
		if i > 0 && a.Started.After(cur[i-1].Started) {
			t.Fatalf("Current is not newest first: %s (%v) after %s (%v)", a.Key, a.Started, cur[i-1].Key, cur[i-1].Started)
		}
	}
	if len(cur) != len(e.alerts) {
		t.Fatalf("Current returns %d alerts, the engine holds %d", len(cur), len(e.alerts))
	}
}

// detfuzzCheckBounds fails when a detector's state is beyond its caps.
func detfuzzCheckBounds(t testing.TB, e *Engine) {
	t.Helper()
	for _, r := range e.Rules() {
		switch d := r.Detector.(type) {
		case *portScan:
			if d.pairs.len() > maxScanPairs {
				t.Fatalf("port_scan holds %d source/target pairs, more than its cap %d", d.pairs.len(), maxScanPairs)
			}
			for k, p := range d.pairs.all() {
				if p.ports.len() > maxPortsPerKey || len(p.pids) > 8 {
					t.Fatalf("port_scan pair %v holds %d ports and %d processes, caps %d and 8", k, p.ports.len(), len(p.pids), maxPortsPerKey)
				}
			}
		case *bruteForce:
			if d.pairs.len() > maxBruteKeys {
				t.Fatalf("brute_force holds %d source/target pairs, more than its cap %d", d.pairs.len(), maxBruteKeys)
			}
			for k, p := range d.pairs.all() {
				if len(p.starts) > d.keep() || len(p.pids) > bfMaxPids {
					t.Fatalf("brute_force pair %v holds %d times and %d processes, caps 4×attempts %d and %d", k, len(p.starts), len(p.pids), d.keep(), bfMaxPids)
				}
			}
		case *synFlood:
			if d.victims.len()+len(d.spare) > MaxAlertsPerRule {
				t.Fatalf("syn_flood holds %d victims and %d spare source tables, more than %d", d.victims.len(), len(d.spare), MaxAlertsPerRule)
			}
			for k, vi := range d.victims.all() {
				if vi.sources.len() > maxFloodSources {
					t.Fatalf("syn_flood victim %v holds %d sources, more than its cap %d", k, vi.sources.len(), maxFloodSources)
				}
			}
		case *exfiltration:
			if d.hosts.len() > maxExfilHosts || len(d.known) > maxKnownHosts {
				t.Fatalf("exfiltration holds %d hosts and %d known ones, caps %d and %d", d.hosts.len(), len(d.known), maxExfilHosts, maxKnownHosts)
			}
		case *newListener:
			if len(d.known) > maxKnownListeners {
				t.Fatalf("new_listener knows %d listeners, more than its cap %d", len(d.known), maxKnownListeners)
			}
		}
	}
	if len(e.alerts) > len(e.rules)*MaxAlertsPerRule {
		t.Fatalf("the engine holds %d alerts, more than %d rules × %d", len(e.alerts), len(e.rules), MaxAlertsPerRule)
	}
}

// detfuzzSeeds are inputs that reach each detector's findings: a SYN flood from spoofed
// sources, a scan, a brute force, a reverse shell, new listeners, leaks, interface
// thresholds and drops, an upload and baselines, with clock steps of every kind.
func detfuzzSeeds() [][]byte {
	pool := func(i uint8) detfuzzAddr { return detfuzzAddr{Sel: i} }
	v4 := func(a, b, c, d byte) detfuzzAddr { return detfuzzAddr{Sel: 0x80, Raw: [16]byte{a, b, c, d}} }
	all := uint8(0xff)
	flood := detfuzzInterval{Op: 1, Mask: detfuzzHasFlows | detfuzzHasStates | detfuzzHasKernel | detfuzzHasCapture | detfuzzHasSockets,
		States: [4]uint64{2000, 0, 10, 0}, Kernel: [13]uint64{9: 100000, 12: 5000}, Cap: [3]uint64{250000, 0, 0},
		Flows: []detfuzzFlow{{Rep: 0x80 | 7, Vary: detfuzzVaryRemote | detfuzzVaryRemotePort, Proto: 0, Local: pool(0), LPort: 22,
			Remote: v4(203, 0, 113, 1), RPort: 1024, Hs: capture.HsSynIn | capture.HsSynAckOut, Flags: 0x02}}, FlowsDropped: 180000}
	scan := detfuzzInterval{Op: 1, Mask: detfuzzHasFlows | detfuzzHasCapture,
		Flows: []detfuzzFlow{{Rep: 0x80 | 31, Vary: detfuzzVaryLocalPort, Local: pool(0), LPort: 1, Remote: pool(1), RPort: 40000,
			Hs: capture.HsSynIn | capture.HsRstOut, Flags: 0x06},
			{Rep: 40, Vary: detfuzzVaryRemotePort, Proto: 2, Local: pool(0), LPort: 5353, Remote: pool(2), RPort: 1, Hs: capture.HsUnreachIn, PID: 9, Comm: 3},
			{Rep: 40, Vary: detfuzzVaryRemotePort | detfuzzVaryPID, Local: pool(4), LPort: 5353, Remote: pool(5), RPort: 1, Hs: capture.HsSynOut | capture.HsRstIn, Flags: 0x06, PID: 9}}}
	brute := detfuzzInterval{Op: 6, Mask: detfuzzHasFlows,
		Flows: []detfuzzFlow{{Rep: 30, Vary: detfuzzVaryRemotePort, Local: pool(0), LPort: 22, Remote: pool(6), RPort: 50000,
			Hs: capture.HsSynIn | capture.HsSynAckOut | capture.HsAckIn | capture.HsAckOut, Flags: 0x1b, Rx: 3000, Tx: 3000}}}
	hosts := detfuzzInterval{Op: 1 | 3<<3 | 7<<5, Mask: detfuzzHasIfaces | detfuzzHasSockets | detfuzzHasStates | detfuzzHasKernel | detfuzzHasCapture | detfuzzHasRemotes | detfuzzHasBaselines,
		Ifaces: []detfuzzIface{{Name: 0, N: [8]uint64{1 << 33, 1000, 300, 300, 1 << 33, 1000, 0, 0}}, {Name: 1, N: [8]uint64{1 << 40}}},
		States: [4]uint64{0, 500, 100000, 0}, Kernel: [13]uint64{0: 1 << 20, 1: 1 << 20}, Cap: [3]uint64{100, 100, 100},
		Listeners: []detfuzzListener{{Rep: 0x80 | 10, Vary: detfuzzVaryLocalPort | detfuzzVaryPID, Proto: 0, Local: pool(0), Port: 8000, PID: 100, Comm: 3},
			{Rep: 3, Proto: 1, Local: pool(9), Port: 53}},
		Procs: []detfuzzProc{{Rep: 3, Vary: detfuzzVaryPID, PID: 200, Comm: 6, Estab: 10, CW: 500, SynSent: 300}},
		Stdio: []detfuzzStdio{{Rep: 2, Vary: detfuzzVaryPID, PID: 300, Comm: 0, User: 4, Local: pool(0), LPort: 40000, Remote: pool(2), RPort: 4444},
			{Rep: 0, PID: 301, Comm: 2, Local: pool(8), LPort: 40001, Remote: pool(8), RPort: 4444}},
		Remotes: []detfuzzRemote{{Rep: 0, Addr: pool(3), Tx: 1 << 31, Rx: 10, PID: 5, Comm: 5}, {Rep: 0x80 | 127, Vary: detfuzzVaryRemote, Addr: v4(192, 0, 2, 0), Tx: 1 << 17}},
		Bases:   []detfuzzBase{{OK: 1 | 4 | 8, Weeks: 3, Median: 1 << 10, MAD: 1 << 4, Y: 1 << 10, LW: 2 << 8}}}
	quiet := detfuzzInterval{Op: 7, Mask: all &^ detfuzzHasFlows}
	jumps := []detfuzzInterval{{Op: 0}, {Op: 2, Step: 1500}, {Op: 4, Step: 1 << 31}, {Op: 5, Step: math.MaxUint64}, {Op: 2 | 2<<3, Step: 10, Elapsed: math.MaxUint64},
		{Op: 1, Mask: detfuzzHasIfaces | detfuzzHasBaselines | detfuzzHasStates | detfuzzHasSockets, Ifaces: hosts.Ifaces, States: hosts.States,
			Bases: []detfuzzBase{{OK: 1 | 2, Weeks: 1, Median: math.Float64bits(math.Inf(1))}, {OK: 3, Weeks: 2, Median: math.Float64bits(math.NaN())}, {OK: 0}}}}
	var seeds [][]byte
	for variant := range uint8(2) {
		seeds = append(seeds,
			detfuzzEncode(detfuzzInput{Variant: variant, Intervals: []detfuzzInterval{flood, flood, flood, quiet, quiet}}),
			detfuzzEncode(detfuzzInput{Variant: variant, Intervals: []detfuzzInterval{scan, scan, quiet, scan, quiet}}),
			detfuzzEncode(detfuzzInput{Variant: variant, Intervals: []detfuzzInterval{brute, brute, brute, quiet, quiet, quiet}}),
			detfuzzEncode(detfuzzInput{Variant: variant, Intervals: []detfuzzInterval{hosts, quiet, hosts, hosts, quiet, quiet, quiet, quiet}}),
			detfuzzEncode(detfuzzInput{Variant: variant, Intervals: append([]detfuzzInterval{flood, hosts, scan}, jumps...)}))
	}
	return seeds
}

// detfuzzRandomSeeds are random inputs of 16 bytes to 1 KiB.
func detfuzzRandomSeeds() [][]byte {
	var seeds [][]byte
	r := rand.New(rand.NewPCG(1, 2))
	for n := 16; n <= 1024; n *= 4 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// FuzzDetectors decodes arbitrary bytes into a sequence of views (interfaces, TCP states,
// kernel counters, listeners, processes, stdio connections, flow facts with any keys, flags
// and handshake bits, remotes, baselines; a clock that steps by 0 to centuries) and
// evaluates every rule over them: nothing may panic, the transitions must be coherent
// (detfuzzCheckEval) and the detectors' tables within their caps.
func FuzzDetectors(f *testing.F) {
	for _, s := range append(detfuzzSeeds(), detfuzzRandomSeeds()...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		detfuzzRun(t, data)
	})
}

// TestDetfuzzSeedsFire: the seeds reach every rule's firing and resolution (else the fuzz
// target would start far from the detectors' insides), and the codec reads back what it
// wrote.
func TestDetfuzzSeedsFire(t *testing.T) {
	seen := map[string]bool{}
	for i, s := range detfuzzSeeds() {
		if back := detfuzzEncode(detfuzzDecode(s)); string(back) != string(s) {
			t.Fatalf("seed %d does not read back as it was written", i)
		}
		for _, l := range detfuzzRun(t, s) {
			state, key, _ := strings.Cut(l, " ")
			rule, _, _ := strings.Cut(key, "/")
			seen[state+" "+rule] = true
		}
	}
	for _, r := range DefaultRules().Rules {
		for _, st := range []AlertState{Firing, Resolved} {
			if !seen[string(st)+" "+r.Name] {
				t.Errorf("no seed makes %s %s (seen: %v)", r.Name, st, detfuzzKeys(seen))
			}
		}
	}
}

func detfuzzKeys(m map[string]bool) string {
	var s []string
	for k := range m {
		s = append(s, strconv.Quote(k))
	}
	return fmt.Sprint(len(s), " ", strings.Join(s, " "))
}
