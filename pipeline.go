package main

import (
	"context"
	"errors"
	"slices"

	"github.com/wiretop/wiretop/detect"
	"github.com/wiretop/wiretop/monitor"
)

// pipeline is the work that follows each closed interval, whatever the front end (TUI,
// headless, daemon): history recording, detection and the alert sinks, and the metrics
// endpoint. It runs on the goroutine that owns the monitor.State, right after the interval
// is applied; what does I/O (the database, the sinks) runs on goroutines of its own behind
// bounded, coalescing queues, so the owner never waits for a disk or a network.
//
// Each stage lives in a file of its own (pipeline_history.go, pipeline_detect.go,
// pipeline_notify.go, pipeline_metrics.go); a stage that cfg does not ask for is nil, and
// every stage method accepts a nil receiver.
type pipeline struct {
	cfg    Config
	notes  []string // what the pipeline wants said in the status line
	hist   *historyStage
	det    *detectStage
	sinks  *notifyStage
	met    *metricsStage
	closed bool
}

// openPipeline starts what cfg asks for beside the monitor state st (nil in the TUI, where
// the UI owns the state and hands it to interval).
func openPipeline(ctx context.Context, cfg Config, st *monitor.State) (p *pipeline, err error) {
	p = &pipeline{cfg: cfg}
	defer func() {
		if err != nil {
			_ = p.close()
		}
	}()
	var notes []string
	if p.hist, notes, err = openHistoryStage(ctx, cfg); err != nil {
		return nil, err
	}
	p.notes = append(p.notes, notes...)
	if p.det, notes, err = openDetectStage(ctx, cfg, p.hist); err != nil {
		return nil, err
	}
	p.notes = append(p.notes, notes...)
	if p.sinks, notes, err = openNotifyStage(ctx, cfg); err != nil {
		return nil, err
	}
	p.notes = append(p.notes, notes...)
	if p.met, notes, err = openMetricsStage(ctx, cfg, p); err != nil {
		return nil, err
	}
	p.notes = append(p.notes, notes...)
	p.notes = uniq(p.notes) // each stage reads the config file: one note of it is enough
	return p, nil
}

// uniq drops repeated lines, keeping the first of each.
func uniq(lines []string) []string {
	seen := make(map[string]bool, len(lines))
	out := lines[:0]
	for _, l := range lines {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}

// interval runs once per closed interval of st (a regular sample, or a replayed batch). It
// returns the alert transitions of the interval (fired or resolved), for the JSON lines.
func (p *pipeline) interval(st *monitor.State) []detect.Alert {
	p.hist.interval(st)
	changed := p.det.interval(st)
	p.hist.alerts(changed)
	p.sinks.send(changed)
	p.met.interval(st)
	return changed
}

// status is what the pipeline has to say in the status line: its notes from the start,
// then what the history recorder noticed since.
func (p *pipeline) status() []string {
	return append(slices.Clip(p.notes), p.hist.status()...)
}

// alerts returns the alerts that the detectors hold now (pending and firing, and those
// resolved in the last minutes), newest first, for the TUI's alerts pane and the metrics.
func (p *pipeline) alerts() []detect.Alert {
	return p.det.current()
}

// close stops what openPipeline started and flushes what is queued: the metrics first (no
// scrape sees a half-closed pipeline), then the sinks, then the history.
func (p *pipeline) close() error {
	if p == nil || p.closed {
		return nil
	}
	p.closed = true
	return errors.Join(p.met.close(), p.sinks.close(), p.det.close(), p.hist.close())
}
