package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/wiretop/wiretop/monitor"
	"github.com/wiretop/wiretop/sampler"
)

// captureNote says why packets are not captured in this mode.
func captureNote(cfg Config) string {
	if cfg.NoCapture {
		return "capture off (--no-capture): processes from tcp_info"
	}
	return "capture not part of this build yet: processes from tcp_info"
}

// runHeadless prints one JSON "sample" line per interval and a "summary" line when the count
// is reached or ctx is done (SIGINT, SIGTERM). On interruption the last, partial interval is
// sampled and printed first, so the summary covers the whole run.
func runHeadless(ctx context.Context, cfg Config, stdout io.Writer) error {
	smp, err := sampler.New(sampler.Options{ProcRoot: cfg.ProcRoot, Interval: cfg.Interval, NoNetlink: cfg.NoNetlink})
	if err != nil {
		return err
	}
	defer smp.Close()
	st := monitor.New(monitor.Options{})
	bw := bufio.NewWriterSize(stdout, 64<<10)
	enc := json.NewEncoder(bw)
	note := captureNote(cfg)
	emit := func(v any) error {
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		return bw.Flush()
	}

	runCtx, cancel := context.WithCancel(ctx)
	ch := make(chan *sampler.Sample, 4)
	pending := make(chan *sampler.Sample, 1)
	go func() { pending <- smp.Run(runCtx, ch) }()

	n := 0
	apply := func(s *sampler.Sample) error {
		st.Apply(s)
		if s.Baseline {
			return nil
		}
		n++
		return emit(st.SampleRecord(cfg.Top, st.StatusRecord(false, note)))
	}
	var werr error
loop:
	for cfg.Count == 0 || n < cfg.Count {
		select {
		case s := <-ch:
			if werr = apply(s); werr != nil {
				break loop
			}
		case <-ctx.Done():
			break loop
		}
	}
	cancel()
	last := <-pending
	if werr == nil && ctx.Err() != nil {
		// interrupted: apply what is queued, then the partial interval up to now
		for done := false; !done && werr == nil; {
			select {
			case s := <-ch:
				werr = apply(s)
			default:
				done = true
			}
		}
		if last != nil && werr == nil {
			werr = apply(last)
		}
		if werr == nil {
			werr = apply(smp.Final(time.Now()))
		}
	}
	if werr != nil {
		return werr
	}
	return emit(st.SummaryRecord(st.StatusRecord(false, note)))
}
