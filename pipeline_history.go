package main

import (
	"context"
	"errors"

	"github.com/wiretop/wiretop/detect"
	"github.com/wiretop/wiretop/monitor"
)

// historyStage records each interval into the history database (issue 9).
type historyStage struct{}

// openHistoryStage opens the database cfg names as the writer, or as a reader when another
// process holds the writer role. Nil when recording is off.
func openHistoryStage(ctx context.Context, cfg Config) (*historyStage, []string, error) {
	if cfg.DB != "" {
		return nil, nil, errors.New("--db: the history database is not part of this build yet")
	}
	return nil, nil, nil
}

func (h *historyStage) interval(st *monitor.State) {}

// alerts records the alert transitions of the interval.
func (h *historyStage) alerts(changed []detect.Alert) {}

// baselines answers what is normal now, for the detectors and the TUI (nil without history).
func (h *historyStage) baselines() monitor.Baselines { return nil }

func (h *historyStage) close() error { return nil }
