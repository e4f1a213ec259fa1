package ui

import (
	"bytes"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/sampler"
)

// The golden tests run the whole program under teatest at 120x40, in the ASCII colour
// profile (TestMain), with the fixed clock of the fixtures: samples 0..40 arrive through
// Options.Samples, keys are pressed, and the final screen is compared with
// testdata/<test>.golden. They must give the same screen on every run:
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

// The help screen lists every key of every pane.
func TestGoldenHelp(t *testing.T) {
	runGolden(t, fixtureOptions(), nil, nil, []goldenStep{{"?", "Everywhere"}})
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

// Capture on: the five slots filled (talkers and packets by placeholders), the header with
// the capture's source, filters and drops.
func TestGoldenFivePanes(t *testing.T) {
	opts := fixtureOptions()
	opts.Capture = &fakeCapture{packetFilter: "port 53", stats: capture.Stats{Received: 123456, Dropped: 7}}
	batches := make(chan *capture.Batch, 1)
	batches <- &capture.Batch{Stats: capture.Stats{Received: 123456, Dropped: 7}}
	opts.Batches = batches
	runGolden(t, opts, func(m Model) Model { return withPlaceholders(m, 10_000) },
		[]string{"drops 7"}, []goldenStep{{"4", "┏━ 4 Talkers"}, {"j", ""}, {"j", ""}})
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
	wait("up 1m") // a minute of samples has been applied
	tm.Send(keyMsg("?"))
	wait("Everywhere")
	tm.Send(keyMsg("esc"))
	tm.Send(keyMsg("3"))
	wait("┏━ 3 Processes")
	tm.Send(keyMsg("q"))
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
}

// Capture on, with the real talkers and packets panes: the batches and samples of the
// fixture are sent in a fixed order (a live run interleaves them: the batch of an interval,
// then its sample), then the packets pane shows one packet's details.
func TestGoldenCapture(t *testing.T) {
	fc := &fakeCapture{packetFilter: "tcp or udp", viewing: true}
	opts := fixtureOptions()
	opts.Capture = fc
	tm := teatest.NewTestModel(t, NewModel(opts), teatest.WithInitialTermSize(120, 40))
	tm.Send(SampleMsg{fixtureSample(0)})
	for i := 1; i <= 40; i++ {
		tm.Send(BatchMsg{fixtureBatch(i)})
		tm.Send(SampleMsg{fixtureSample(i)})
	}
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
	wait("09:27:33", `view "tcp or udp"`)
	tm.Send(keyMsg("5"))
	tm.Send(keyMsg("j"))
	tm.Send(keyMsg("enter"))
	wait("bytes on the wire")
	tm.Send(keyMsg("4"))
	wait("┏━ 4 Talkers")
	tm.Send(keyMsg("q"))
	final := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(Model)
	screen := final.View()
	checkScreen(t, screen, 120, 40)
	golden.RequireEqual(t, []byte(screen))
}
