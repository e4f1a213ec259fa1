package main

import (
	"context"
	"errors"

	"github.com/wiretop/wiretop/detect"
	"github.com/wiretop/wiretop/monitor"
)

// pipeline is the work that follows each closed interval, whatever the front end (TUI,
// headless, daemon): history recording, detection and the alert sinks, and the metrics
// endpoint. It runs on the goroutine that owns the monitor.State, right after the interval
// is applied; what does I/O (the database, the sinks) runs on goroutines of its own behind
// bounded, coalescing queues, so the owner never waits for a disk or a network.
type pipeline struct {
	cfg    Config
	notes  []string // what the pipeline wants said in the status line
	closed bool
}

// openPipeline starts what cfg asks for beside the monitor state st.
func openPipeline(ctx context.Context, cfg Config, st *monitor.State) (*pipeline, error) {
	p := &pipeline{cfg: cfg}
	return p, nil
}

// interval runs once per closed interval of st (a regular sample, or a replayed batch). It
// returns the alert transitions of the interval (fired or resolved), for the JSON lines.
func (p *pipeline) interval(st *monitor.State) []detect.Alert {
	return nil
}

// alerts returns the alerts that the detectors hold now (pending and firing, and those
// resolved in the last minutes), newest first, for the TUI's alerts pane and the metrics.
func (p *pipeline) alerts() []detect.Alert {
	return nil
}

// close stops what openPipeline started and flushes what is queued.
func (p *pipeline) close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	var errs []error
	return errors.Join(errs...)
}
