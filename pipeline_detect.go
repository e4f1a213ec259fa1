package main

import (
	"context"
	"fmt"
	"os"

	"github.com/wiretop/wiretop/detect"
	"github.com/wiretop/wiretop/monitor"
)

// detectStage runs the detectors once per interval (issue 7).
type detectStage struct {
	eng  *detect.Engine
	view monitor.DetectView
	base monitor.Baselines
}

// loadRules returns the rules in force: the defaults, then the config file's [rules]
// section, then the --rules file (which must exist).
//
// A default config file that cannot be read leaves the default rules and a note
// (readConfigFile).
func loadRules(cfg Config) (*detect.RuleSet, []string, error) {
	rs := detect.DefaultRules()
	var notes []string
	data, path, note, err := cfg.readConfigFile()
	if err != nil {
		return nil, nil, err
	}
	if note != "" {
		notes = append(notes, note)
	}
	if data != nil {
		if err := rs.Load(data, path, "rules"); err != nil {
			return nil, nil, err
		}
	}
	if cfg.RulesPath != "" {
		data, err := os.ReadFile(cfg.RulesPath)
		if err != nil {
			return nil, nil, fmt.Errorf("--rules: %w", err)
		}
		if err := rs.Load(data, cfg.RulesPath, ""); err != nil {
			return nil, nil, err
		}
	}
	return rs, notes, nil
}

// openDetectStage loads the rules cfg names; hist gives the baselines (nil without history).
func openDetectStage(ctx context.Context, cfg Config, hist *historyStage) (*detectStage, []string, error) {
	rs, notes, err := loadRules(cfg)
	if err != nil {
		return nil, nil, err
	}
	d := &detectStage{base: hist.baselines()}
	if d.base == nil {
		rs.NoBaselines()
		notes = append(notes, "detection: baseline rules off (no history)")
	}
	d.eng = detect.New(rs)
	return d, notes, nil
}

// interval evaluates the detectors over st and returns the alert transitions.
func (d *detectStage) interval(st *monitor.State) []detect.Alert {
	if d == nil {
		return nil
	}
	st.DetectView(&d.view)
	d.view.Baselines = d.base
	return d.eng.Eval(&d.view, d.view.Time)
}

// current returns the alerts held now, newest first.
func (d *detectStage) current() []detect.Alert {
	if d == nil {
		return nil
	}
	return d.eng.Current()
}

func (d *detectStage) close() error { return nil }
