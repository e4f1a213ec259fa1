package main

import (
	"context"
	"errors"

	"github.com/wiretop/wiretop/detect"
	"github.com/wiretop/wiretop/monitor"
)

// detectStage runs the detectors once per interval (issue 7).
type detectStage struct{}

// openDetectStage loads the rules cfg names; hist gives the baselines (nil without history).
func openDetectStage(ctx context.Context, cfg Config, hist *historyStage) (*detectStage, []string, error) {
	if cfg.RulesPath != "" {
		return nil, nil, errors.New("--rules: detection is not part of this build yet")
	}
	return nil, nil, nil
}

// interval evaluates the detectors over st and returns the alert transitions.
func (d *detectStage) interval(st *monitor.State) []detect.Alert { return nil }

// current returns the alerts held now, newest first.
func (d *detectStage) current() []detect.Alert { return nil }

func (d *detectStage) close() error { return nil }
