package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/detect"
	"github.com/wiretop/wiretop/monitor"
	"github.com/wiretop/wiretop/notify"
	"github.com/wiretop/wiretop/sampler"
)

// headless writes JSON Lines (DESIGN.md): one "sample" line per interval, "packet" lines
// when a packet filter is set, and one "summary" line when the run ends.
type headless struct {
	cfg Config
	src *sources
	st  *monitor.State
	pl  *pipeline
	bw  *bufio.Writer
	enc *json.Encoder

	n            int       // sample lines written
	lastBatchEnd time.Time // End of the latest batch applied
	lastAddrs    time.Time // when the host's addresses were last read
	capErr       error     // the capture's Run result, once it returned
}

// runHeadless prints one JSON "sample" line per interval and a "summary" line when the
// count is reached, the replayed file ends, or ctx is done (SIGINT, SIGTERM). On
// interruption the last, partial interval is sampled and printed first, so that the summary
// covers the whole run. A damaged replay file: what was read is printed, with the summary,
// and the error is returned.
func runHeadless(ctx context.Context, cfg Config, stdout io.Writer) error {
	src, err := openSources(cfg)
	if err != nil {
		return err
	}
	defer src.close()
	bw := bufio.NewWriterSize(stdout, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false) // summaries read "a > b", as tcpdump prints them
	h := &headless{cfg: cfg, src: src, st: src.newState(), bw: bw, enc: enc}
	h.pl, err = openPipeline(ctx, cfg, h.st)
	if err != nil {
		return err
	}
	defer h.pl.close()
	if cfg.Command == "daemon" {
		for _, n := range h.pl.notes {
			fmt.Fprintln(os.Stderr, "wiretop:", n) // the journal's record of what the daemon does
		}
	}
	src.start(ctx)
	if cfg.ReplayFile != "" {
		err = h.replay(ctx)
	} else {
		err = h.live(ctx)
	}
	_, capErr := src.stop()
	if err != nil {
		return err
	}
	if h.capErr == nil {
		h.capErr = capErr
	}
	if err := h.emit(h.st.SummaryRecord(h.status())); err != nil {
		return err
	}
	if err := h.flush(); err != nil {
		return err
	}
	if h.capErr != nil {
		return h.capErr
	}
	return errors.Join(h.pl.close(), src.close())
}

// status is the status of the latest sample, with why capture is off.
func (h *headless) status() monitor.StatusRecord {
	return h.st.StatusRecord(h.src.cap != nil, append(slices.Clip(h.src.notes), h.pl.status()...)...)
}

func (h *headless) emit(v any) error {
	if err := h.enc.Encode(v); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// flush writes what is buffered: once per interval, not per line.
func (h *headless) flush() error {
	if err := h.bw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

func (h *headless) done() bool { return h.cfg.Count > 0 && h.n >= h.cfg.Count }

// live reads the sampler and the capture until the count is reached or ctx is done.
func (h *headless) live(ctx context.Context) error {
	for !h.done() {
		select {
		case b := <-h.src.batches:
			if err := h.batch(b); err != nil {
				return err
			}
		case err := <-h.src.capDone:
			h.src.capDone = nil
			if err != nil {
				h.capErr = err
				return h.interrupted()
			}
		case s := <-h.src.samples:
			if err := h.sample(ctx, s, true); err != nil {
				return err
			}
		case <-ctx.Done():
			return h.interrupted()
		}
	}
	return nil
}

// interrupted stops the producers and prints what they still hold, then the partial
// interval up to now.
func (h *headless) interrupted() error {
	last, capErr := h.src.stop()
	if h.capErr == nil {
		h.capErr = capErr
	}
	if err := h.drainBatches(); err != nil {
		return err
	}
	if b := h.src.unsent(); b != nil {
		if err := h.batch(b); err != nil {
			return err
		}
	}
	for {
		select {
		case s := <-h.src.samples:
			if err := h.sample(nil, s, false); err != nil {
				return err
			}
			continue
		default:
		}
		break
	}
	if last != nil {
		if err := h.sample(nil, last, false); err != nil {
			return err
		}
	}
	if h.src.smp != nil && !h.done() {
		return h.sample(nil, h.src.smp.Final(time.Now()), false)
	}
	return nil
}

// drainBatches applies the batches already sent.
func (h *headless) drainBatches() error {
	for {
		select {
		case b := <-h.src.batches:
			if err := h.batch(b); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// sample applies a sampler sample; a regular one closes the interval and prints its line.
// With capture (and wait set), the batch of the same interval is awaited first, briefly, so
// that a line's talkers and interfaces cover the same time.
func (h *headless) sample(ctx context.Context, s *sampler.Sample, wait bool) error {
	if s.Baseline || s.Refresh {
		h.st.Apply(s)
		return nil
	}
	if wait && h.src.batches != nil {
		if err := h.awaitBatch(ctx, s.Time); err != nil {
			return err
		}
	}
	if now := time.Now(); now.Sub(h.lastAddrs) > refreshAddrsEvery {
		h.src.refreshAddrs()
		h.lastAddrs = now
	}
	h.st.Apply(s)
	if h.done() {
		return nil
	}
	return h.closed()
}

// closed runs the pipeline on the interval that was just applied and prints its sample line
// and its alert transitions.
func (h *headless) closed() error {
	h.n++
	alerts := h.pl.interval(h.st)
	if err := h.emit(h.st.SampleRecord(h.cfg.Top, h.status())); err != nil {
		return err
	}
	for _, a := range alerts {
		if err := h.emit(alertRecord(a)); err != nil {
			return err
		}
	}
	return h.flush()
}

// awaitBatch applies batches until one ends in the second half of the interval that ends at
// t, or half an interval has passed.
func (h *headless) awaitBatch(ctx context.Context, t time.Time) error {
	half := h.cfg.Interval / 2
	if !h.lastBatchEnd.Before(t.Add(-half)) {
		return nil
	}
	timer := time.NewTimer(half)
	defer timer.Stop()
	for h.lastBatchEnd.Before(t.Add(-half)) {
		select {
		case b := <-h.src.batches:
			if err := h.batch(b); err != nil {
				return err
			}
		case <-timer.C:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// batch applies a capture batch and prints its packets when a packet filter is set.
func (h *headless) batch(b *capture.Batch) error {
	h.st.ApplyBatch(b)
	h.lastBatchEnd = b.End
	if b.Err != nil && !h.src.cap.Replay() {
		// a failed pcap write: writing stopped, the rest goes on
		fmt.Fprintln(os.Stderr, "wiretop:", b.Err)
	}
	if h.cfg.PacketFilter != "" {
		for _, p := range h.st.PacketRecords() {
			if err := h.emit(p); err != nil {
				return err
			}
		}
	}
	if h.src.smp != nil && h.st.NeedRefresh() {
		h.src.smp.RequestRefresh()
	}
	return nil
}

// replay prints one sample line per batch of the replayed file, on the file's clock.
func (h *headless) replay(ctx context.Context) error {
	for !h.done() {
		select {
		case b := <-h.src.batches:
			if err := h.replayBatch(b); err != nil {
				return err
			}
		case err := <-h.src.capDone:
			// Run has sent its last batch before returning: apply what is queued
			h.src.capDone = nil
			h.capErr = err
			return h.drainReplay()
		case <-ctx.Done():
			_, err := h.src.stop()
			h.capErr = err
			if err := h.drainReplay(); err != nil {
				return err
			}
			if b := h.src.unsent(); b != nil && !h.done() {
				return h.replayBatch(b)
			}
			return nil
		}
	}
	return nil
}

func (h *headless) drainReplay() error {
	for !h.done() {
		select {
		case b := <-h.src.batches:
			if err := h.replayBatch(b); err != nil {
				return err
			}
		default:
			return nil
		}
	}
	return nil
}

func (h *headless) replayBatch(b *capture.Batch) error {
	if err := h.batch(b); err != nil {
		return err
	}
	return h.closed()
}

// alertRecord is an alert's "type":"alert" JSON line (DESIGN.md's fixed fields, and the
// key, so that a reader pairs a resolution with its firing): the shape notify.Record defines
// for the alerts log and the exec hook too.
func alertRecord(a detect.Alert) map[string]any { return notify.Record(a) }
