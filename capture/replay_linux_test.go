//go:build linux

package capture

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/wiretop/wiretop/capture/capturetest"
	"github.com/wiretop/wiretop/capture/internal/pcapgen"
)

// pcapDir holds the captures of real traffic made by scripts/mkpcaps.sh.
const pcapDir = "../testdata/pcap"

func testPcaps(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(pcapDir, "*.pcap*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test pcaps in %s: %v", pcapDir, err)
	}
	return files
}

func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed (scripts/deps.sh installs it): %v", name, err)
	}
}

// runResult is what a whole run sent.
type runResult struct {
	batches []*Batch
	flows   map[FlowKey]FlowDelta // summed over the batches
	other   Counter
	over    FlowDelta
	matched uint64
	err     error // Run's
}

func (r *runResult) packets() (n uint64) {
	for _, f := range r.flows {
		n += f.Packets()
	}
	return n + r.other.Packets + r.over.Packets()
}

// collect sums batches into r.
func (r *runResult) add(b *Batch) {
	r.batches = append(r.batches, b)
	for _, f := range b.Flows {
		s := r.flows[f.Key]
		s.Key = f.Key
		s.add(&f)
		r.flows[f.Key] = s
	}
	r.other.Packets += b.Other.Packets
	r.other.Bytes += b.Other.Bytes
	r.over.add(&b.Overflow)
	r.matched += b.PacketsMatched
}

// replay runs a whole replay and sums what it sent.
func replay(t *testing.T, opts Options, setup func(*Capture)) *runResult {
	t.Helper()
	c, err := Open(opts)
	if err != nil {
		t.Fatalf("Open(%+v): %v", opts, err)
	}
	defer c.Close()
	if setup != nil {
		setup(c)
	}
	return drive(t, c)
}

// drive runs c to its end with a small channel and a reader.
func drive(t testing.TB, c *Capture) *runResult {
	t.Helper()
	out := make(chan *Batch, 64)
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background(), out) }()
	return collect(out, done)
}

// collect reads batches until Run has returned and the channel is empty.
func collect(out chan *Batch, done chan error) *runResult {
	res := &runResult{flows: map[FlowKey]FlowDelta{}}
	for {
		select {
		case b := <-out:
			res.add(b)
			continue
		case res.err = <-done:
		}
		break
	}
	for {
		select {
		case b := <-out:
			res.add(b)
		default:
			return res
		}
	}
}

// tcpdumpCount counts the packets of file that tcpdump's filter expr selects.
func tcpdumpCount(t *testing.T, file, expr string) uint64 {
	t.Helper()
	args := []string{"--count", "-r", file}
	if expr != "" {
		args = append(args, expr)
	}
	out, err := exec.Command("tcpdump", args...).Output()
	if err != nil {
		t.Fatalf("tcpdump %s: %v", strings.Join(args, " "), err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || f[1] != "packets" {
		t.Fatalf("tcpdump --count printed %q", out)
	}
	n, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		t.Fatalf("tcpdump --count printed %q: %v", out, err)
	}
	return n
}

// convsOf turns TCP and UDP flows with ports into capturetest.Convs.
func convsOf(flows map[FlowKey]FlowDelta) capturetest.Convs {
	c := capturetest.Convs{}
	for k, f := range flows {
		if (k.Proto != protoTCP && k.Proto != protoUDP) || (k.Local.Port() == 0 && k.Remote.Port() == 0) {
			continue
		}
		c.AddFlow(k.ProtoName(), k.Local, k.Remote, f.RxPackets, f.RxBytes, f.TxPackets, f.TxBytes)
	}
	return c
}

// TestReplayMatchesTshark: per conversation, packets and bytes each way,
// exactly as tshark counts them (see package capturetest for how tshark is
// read), and every packet of the file accounted once.
func TestReplayMatchesTshark(t *testing.T) {
	needTool(t, "tshark")
	needTool(t, "tcpdump")
	for _, file := range testPcaps(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			want, err := capturetest.TsharkConversations(context.Background(), file)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 {
				t.Fatalf("tshark found no TCP or UDP conversation in %s", file)
			}
			res := replay(t, Options{ReplayFile: file}, nil)
			if res.err != nil {
				t.Fatalf("Run: %v", res.err)
			}
			if d := capturetest.Diff(want, convsOf(res.flows)); len(d) > 0 {
				t.Errorf("flows differ from tshark:\n%s", strings.Join(d, "\n"))
			}
			if n, total := res.packets(), tcpdumpCount(t, file, ""); n != total {
				t.Errorf("accounted %d packets, the file has %d (tcpdump)", n, total)
			}
			if got := res.batches[len(res.batches)-1].Stats.Received; got != res.packets() {
				t.Errorf("Stats.Received = %d, accounted %d", got, res.packets())
			}
			t.Logf("%d conversations agree with tshark; %d batches", len(want), len(res.batches))
		})
	}
}

// TestReplayIntervals: intervals follow the file's clock, are contiguous,
// and the last, partial one is sent.
func TestReplayIntervals(t *testing.T) {
	file := filepath.Join(pcapDir, "mixed-vlan.pcap")
	res := replay(t, Options{ReplayFile: file, Interval: 2 * time.Second}, nil)
	if res.err != nil {
		t.Fatal(res.err)
	}
	var first, last time.Time
	for _, f := range res.flows {
		if first.IsZero() || f.First.Before(first) {
			first = f.First
		}
		if f.Last.After(last) {
			last = f.Last
		}
	}
	bs := res.batches
	if !bs[0].Start.Equal(first.Truncate(2 * time.Second)) {
		t.Errorf("first batch starts at %v, the file at %v", bs[0].Start, first)
	}
	intervals := 0
	for i, b := range bs {
		// A batch spans one interval, or several when the reader fell
		// behind and they were coalesced.
		got := b.End.Sub(b.Start)
		if got <= 0 || got%(2*time.Second) != 0 {
			t.Errorf("batch %d spans %v", i, got)
		}
		intervals += int(got / (2 * time.Second))
		if i > 0 && !b.Start.Equal(bs[i-1].End) {
			t.Errorf("batch %d starts at %v, batch %d ended at %v", i, b.Start, i-1, bs[i-1].End)
		}
	}
	if lb := bs[len(bs)-1]; last.Before(lb.Start) || !last.Before(lb.End) {
		t.Errorf("last packet at %v is not in the last batch [%v, %v)", last, lb.Start, lb.End)
	}
	// The file spans about 11.7 s: 6 or 7 intervals of 2 s.
	if span := last.Sub(first); intervals != int(last.Sub(first.Truncate(2*time.Second))/(2*time.Second))+1 {
		t.Errorf("%d intervals for a file spanning %v", intervals, span)
	}
}

// TestReplayPaced: at --speed 10 a replay takes about a tenth of the file's
// span, and sends a batch per interval of the file's clock.
func TestReplayPaced(t *testing.T) {
	file := filepath.Join(pcapDir, "qinq.pcap")
	fast := replay(t, Options{ReplayFile: file}, nil)
	start := time.Now()
	paced := replay(t, Options{ReplayFile: file, Speed: 10, Interval: 500 * time.Millisecond}, nil)
	took := time.Since(start)
	if fast.err != nil || paced.err != nil {
		t.Fatal(fast.err, paced.err)
	}
	var first, last time.Time
	for _, f := range fast.flows {
		if first.IsZero() || f.First.Before(first) {
			first = f.First
		}
		if f.Last.After(last) {
			last = f.Last
		}
	}
	span := last.Sub(first)
	// Pacing is what is tested here: the run cannot be faster than the
	// file's span at that speed (a lower bound, not a timing measurement),
	// less the millisecond by which runReplay lets a packet go early rather
	// than arm a timer for it (CI once saw 283.19 ms for a 283.28 ms bound).
	if took < span/10-time.Millisecond {
		t.Errorf("paced replay took %v, the file spans %v: faster than 10x", took, span)
	}
	if fast.packets() != paced.packets() {
		t.Errorf("paced replay accounted %d packets, unpaced %d", paced.packets(), fast.packets())
	}
}

// TestReplayCoalesces: with no room in the channel, Run does not block:
// it sums the intervals into one pending batch, and loses nothing.
func TestReplayCoalesces(t *testing.T) {
	file := filepath.Join(pcapDir, "mixed-vlan.pcap")
	want := replay(t, Options{ReplayFile: file, Interval: 100 * time.Millisecond}, nil)
	c, err := Open(Options{ReplayFile: file, Interval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A channel without room and nobody reading until Run has read the whole
	// file: every interval is coalesced into the pending batch.
	out := make(chan *Batch)
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background(), out) }()
	total := want.packets()
	for c.Stats().Received < total {
		select {
		case err := <-done:
			t.Fatalf("Run returned before anything was read from its channel: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	got := collect(out, done)
	if got.err != nil {
		t.Fatal(got.err)
	}
	if len(got.batches) >= len(want.batches) {
		t.Errorf("%d batches with no room in the channel, %d with room: nothing coalesced", len(got.batches), len(want.batches))
	}
	if d := capturetest.Diff(convsOf(want.flows), convsOf(got.flows)); len(d) > 0 {
		t.Errorf("coalesced flows differ:\n%s", strings.Join(d, "\n"))
	}
	if got.packets() != want.packets() {
		t.Errorf("coalesced run accounted %d packets, want %d", got.packets(), want.packets())
	}
}

// TestReplayLateReader: a consumer that reads one batch and then lets several intervals
// pass while the channel (room for one) is full gets every packet and byte exactly once:
// the coalesced batches follow each other with no gap and no overlap (each starts where
// the one before ended), their flows sum to those of a run whose consumer keeps up, and
// the last batch reaches the consumer.
func TestReplayLateReader(t *testing.T) {
	file := filepath.Join(pcapDir, "mixed-vlan.pcap") // 576 packets over 11.7 s
	opts := Options{ReplayFile: file, Interval: 100 * time.Millisecond}
	want := replay(t, opts, nil)
	opts.Speed = 50 // an interval every 2 ms
	c, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out := make(chan *Batch, 1)
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background(), out) }()
	got := &runResult{flows: map[FlowKey]FlowDelta{}}
	late := func() {
		for {
			select {
			case b := <-out:
				got.add(b)
				time.Sleep(7 * time.Millisecond) // three or four intervals
			case got.err = <-done:
				return
			}
		}
	}
	late()
	for len(out) > 0 {
		got.add(<-out)
	}
	if got.err != nil {
		t.Fatal(got.err)
	}
	if len(got.batches) >= len(want.batches) {
		t.Errorf("%d batches to a late reader, %d to one that keeps up: nothing coalesced", len(got.batches), len(want.batches))
	}
	for i := 1; i < len(got.batches); i++ {
		if p, b := got.batches[i-1], got.batches[i]; !b.Start.Equal(p.End) {
			t.Errorf("batch %d spans %v to %v, the one before ended at %v", i, b.Start, b.End, p.End)
		}
	}
	if first, last := got.batches[0], got.batches[len(got.batches)-1]; !first.Start.Equal(want.batches[0].Start) || !last.End.Equal(want.batches[len(want.batches)-1].End) {
		t.Errorf("late reader's batches span %v to %v, want %v to %v", first.Start, last.End, want.batches[0].Start, want.batches[len(want.batches)-1].End)
	}
	if d := capturetest.Diff(convsOf(want.flows), convsOf(got.flows)); len(d) > 0 {
		t.Errorf("late reader's flows differ:\n%s", strings.Join(d, "\n"))
	}
	if got.packets() != want.packets() || got.other != want.other {
		t.Errorf("late reader got %d packets (other %+v), want %d (other %+v)", got.packets(), got.other, want.packets(), want.other)
	}
	t.Logf("%d batches to the late reader, %d to one that keeps up; %d packets", len(got.batches), len(want.batches), got.packets())
}

// TestReplayStoppedUnsent: a replay stopped (its ctx cancelled) while its consumer reads
// nothing: Run does not wait for room for its last batch, and keeps it for Unsent. The
// batches in the channel and then Unsent's hold every packet the replay accounted
// (Stats.Received of the last one), contiguous from the file's start.
func TestReplayStoppedUnsent(t *testing.T) {
	file := filepath.Join(pcapDir, "mixed-vlan.pcap") // 576 packets over 11.7 s
	c, err := Open(Options{ReplayFile: file, Interval: 100 * time.Millisecond, Speed: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out := make(chan *Batch, 1) // room for one batch, never read while Run runs
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	if err := c.Run(ctx, out); err != nil {
		t.Fatal(err)
	}
	got := &runResult{flows: map[FlowKey]FlowDelta{}}
	for len(out) > 0 {
		got.add(<-out)
	}
	last := c.Unsent()
	if last == nil {
		t.Fatalf("Unsent is nil: the stopped replay's last batch (the channel held %d) was dropped", len(got.batches))
	}
	got.add(last)
	for i := 1; i < len(got.batches); i++ {
		if p, b := got.batches[i-1], got.batches[i]; !b.Start.Equal(p.End) {
			t.Errorf("batch %d spans %v to %v, the one before ended at %v", i, b.Start, b.End, p.End)
		}
	}
	if n := got.packets(); n == 0 || n != last.Stats.Received || n >= 576 {
		t.Errorf("the batches hold %d packets, the replay accounted %d: want them equal, some, and not the whole file (576: not stopped)", n, last.Stats.Received)
	}
	t.Logf("%d batches, %d packets accounted before the stop", len(got.batches), got.packets())
}

// TestReplayGap: a file silent for ten hours between two packets is sent as
// a few batches, not 36,000, and both packets are accounted.
func TestReplayGap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gap.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(256, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	g := pcapgen.NewGen(pcapgen.Options{Seed: 3})
	for _, ts := range []time.Time{pcapgen.Start, pcapgen.Start.Add(10 * time.Hour)} {
		data, wire := g.Next()
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(data), Length: wire}, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	res := replay(t, Options{ReplayFile: path}, nil)
	if res.err != nil || res.packets() != 2 {
		t.Fatalf("%d packets, %v", res.packets(), res.err)
	}
	if n := len(res.batches); n > 4 {
		t.Errorf("%d batches for a ten-hour silence", n)
	}
	if first, last := res.batches[0], res.batches[len(res.batches)-1]; last.End.Sub(first.Start) != 10*time.Hour+time.Second {
		t.Errorf("batches span %v to %v", first.Start, last.End)
	}
}
