package ui

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/sampler"
)

// The golden tests run the whole program under teatest at 120x40, in the ASCII colour
// profile and the UTC time zone (TestMain), keys are pressed, and the final screen is
// compared with testdata/<test>.golden. The live ones are fed the fixture's samples 0..40
// through Options.Samples, with its fixed clock; the replay ones (TestGoldenReplay*) the
// batches of a real replay of a capture in testdata/pcap, on the file's clock. Reverse DNS is
// off, as by default. They must give the same screen on every run:
//
//	go test -count=20 -run Golden ./ui
//
// Regenerate with go test ./ui -run Golden -update.

// goldenStep is a key to press and a text to wait for in the output once it is handled.
type goldenStep struct{ key, wait string }

func runGolden(t *testing.T, opts Options, setup func(Model) Model, ready []string, steps []goldenStep) {
	t.Helper()
	ch := make(chan *sampler.Sample, 64)
	for i := 0; i <= 40; i++ {
		ch <- fixtureSample(i)
	}
	opts.Samples = ch
	m := NewModel(opts)
	if setup != nil {
		m = setup(m)
	}
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 40))
	wait := func(texts ...string) {
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
			for _, s := range texts {
				if !bytes.Contains(b, []byte(s)) {
					return false
				}
			}
			return true
		}, teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(5*time.Millisecond))
	}
	wait(append([]string{"09:27:33"}, ready...)...) // the clock of the last sample, and what else the test needs
	for _, s := range steps {
		tm.Send(keyMsg(s.key))
		if s.wait != "" {
			wait(s.wait)
		}
	}
	tm.Send(keyMsg("q"))
	final := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(Model)
	screen := final.View()
	checkScreen(t, screen, 120, 40)
	golden.RequireEqual(t, []byte(screen))
}

// The dashboard as it starts: bandwidth and TCP states on top, processes below.
func TestGoldenDashboard(t *testing.T) {
	runGolden(t, fixtureOptions(), nil, nil, nil)
}

// The processes pane zoomed, filtered, in bits and by session totals, paused.
func TestGoldenZoomFilter(t *testing.T) {
	steps := []goldenStep{{"3", ""}, {"z", ""}, {"/", ""}}
	for _, k := range "www" {
		steps = append(steps, goldenStep{string(k), ""})
	}
	steps = append(steps, goldenStep{"enter", ""}, goldenStep{"u", ""}, goldenStep{"m", ""}, goldenStep{"p", "PAUSED"})
	runGolden(t, fixtureOptions(), nil, nil, steps)
}

// Keys are handled while samples pour in as fast as the model takes them: the help opens and
// closes, and q quits, between samples (nothing in Update waits for anything).
func TestKeysWhileSamplesStream(t *testing.T) {
	ch := make(chan *sampler.Sample) // unbuffered: the feeder hands over one sample at a time
	done := make(chan struct{})
	defer close(done)
	samples := make([]*sampler.Sample, 64)
	for i := range samples {
		samples[i] = fixtureSample(i)
	}
	go func() {
		for i := 0; ; i++ {
			s := *samples[1+i%63] // baseline once, then the fixture over and over
			if i == 0 {
				s = *samples[0]
			}
			s.Time = t0.Add(time.Duration(i) * time.Second)
			select {
			case ch <- &s:
			case <-done:
				return
			}
		}
	}()
	opts := fixtureOptions()
	opts.Samples = ch
	tm := teatest.NewTestModel(t, NewModel(opts), teatest.WithInitialTermSize(120, 40))
	wait := func(s string) {
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(s)) },
			teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(5*time.Millisecond))
	}
	// Ten samples or more have been applied (a busy machine applies a few a second here, so
	// waiting for a minute of them would time out, and frames may skip any one value).
	teatest.WaitFor(t, tm.Output(), regexp.MustCompile(`up (?:[1-9][0-9]s|[0-9]+m)`).Match,
		teatest.WithDuration(20*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
	tm.Send(keyMsg("?"))
	wait("Everywhere")
	tm.Send(keyMsg("esc"))
	tm.Send(keyMsg("3"))
	wait("┏━ 3 Processes")
	tm.Send(keyMsg("q"))
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
}

// replay runs a capture file through the real capture (libpcap, the decoder, the flow table,
// the packet filter, the packet summaries) as fast as it reads, with packets collected for
// the view as the TUI asks, and returns its batches, on the file's clock. The channel has
// room for them all, so that none is coalesced and every run gives the same batches. The
// capture stays open until the test ends, for the model to read and control.
func replay(t *testing.T, file, packetFilter string) (*capture.Capture, []*capture.Batch) {
	t.Helper()
	c, err := capture.Open(capture.Options{ReplayFile: file, PacketFilter: packetFilter})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetViewing(true)
	ch := make(chan *capture.Batch, 1<<16)
	if err := c.Run(context.Background(), ch); err != nil {
		t.Fatalf("replay %s: %v", file, err)
	}
	close(ch)
	var out []*capture.Batch
	for b := range ch {
		out = append(out, b)
	}
	if len(out) < 3 {
		t.Fatalf("replay %s: %d batches", file, len(out))
	}
	return c, out
}

// runReplayGolden replays file (with a packet filter, if any) and feeds its first n batches
// (all of them when n is 0, and then the channel is closed: the replay has ended) to the
// model through Options.Batches, as the program does; then it presses the keys of steps and
// compares the final screen with the golden file.
func runReplayGolden(t *testing.T, file, packetFilter string, n int, steps []goldenStep) {
	t.Helper()
	c, batches := replay(t, "../testdata/pcap/"+file, packetFilter)
	if n <= 0 || n > len(batches) {
		n = len(batches)
	}
	ch := make(chan *capture.Batch, n)
	for _, b := range batches[:n] {
		ch <- b
	}
	ready := []string{"replay " + file, batches[n-1].End.Format("15:04:05")}
	if n == len(batches) {
		close(ch)
		ready = append(ready, "(ended)")
	}
	m := NewModel(Options{Capture: c, Batches: ch, Interval: time.Second, Clock: fixedClock})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 40))
	wait := func(texts ...string) {
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
			for _, s := range texts {
				if !bytes.Contains(b, []byte(s)) {
					return false
				}
			}
			return true
		}, teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(5*time.Millisecond))
	}
	wait(ready...)
	for _, s := range steps {
		tm.Send(keyMsg(s.key))
		if s.wait != "" {
			wait(s.wait)
		}
	}
	if err := tm.Quit(); err != nil { // not q: it would be typed into an open input
		t.Fatal(err)
	}
	final := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(Model)
	screen := final.View()
	checkScreen(t, screen, 120, 40)
	golden.RequireEqual(t, []byte(screen))
}

// typing returns the steps that type text into an open input.
func typing(text string) []goldenStep {
	var steps []goldenStep
	for _, r := range text {
		k := string(r)
		if r == ' ' {
			k = "space"
		}
		steps = append(steps, goldenStep{k, ""})
	}
	return steps
}

// The dashboard half-way through the demo capture: the five panes, the replay's clock.
func TestGoldenReplayDashboard(t *testing.T) {
	runReplayGolden(t, "demo.pcap", "", 30, nil)
}

// The talkers pane zoomed, with ports (one row per flow), sorted by session totals.
func TestGoldenReplayTalkers(t *testing.T) {
	runReplayGolden(t, "demo.pcap", "", 0, []goldenStep{{"4", ""}, {"z", ""}, {"P", "flows"}, {"s", ""}, {"s", ""}, {"s", "by total"}})
}

// The packets pane with the packet filter the capture opened with, and an invalid filter
// typed over it: libpcap's error inline, the filter in force kept.
func TestGoldenReplayPacketFilter(t *testing.T) {
	steps := []goldenStep{{"5", ""}, {"z", ""}, {"f", ""}, {"ctrl+u", ""}}
	steps = append(steps, typing("tcp port x")...)
	steps = append(steps, goldenStep{"enter", "unknown port"})
	runReplayGolden(t, "demo.pcap", "udp port 53", 0, steps)
}

// The details of a packet with a VLAN tag and IPv6 extension headers (hop-by-hop, then
// destination options), chosen by a packet filter on its next header.
func TestGoldenReplayDetails(t *testing.T) {
	runReplayGolden(t, "mixed-vlan.pcap", "vlan and ip6[6] == 0", 0, []goldenStep{{"5", ""}, {"z", ""}, {"enter", "Destination Options for IPv6"}})
}

// The help screen lists every key of the five panes.
func TestGoldenReplayHelp(t *testing.T) {
	runReplayGolden(t, "demo.pcap", "", 0, []goldenStep{{"?", "Everywhere"}})
}
