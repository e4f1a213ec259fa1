package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/wiretop/wiretop/monitor"
	"github.com/wiretop/wiretop/ui"
)

// runTUI starts the producers and the terminal UI, and stops them when the UI quits. The
// preferences file gives the interval and the packet filter when the flags do not.
func runTUI(ctx context.Context, cfg Config) error {
	path := cfg.prefsPath()
	prefs, perr := ui.LoadPrefs(path)
	var status []string
	if perr != nil {
		status = append(status, fmt.Sprintf("preferences not loaded (%v): defaults in use, and they will not be saved", perr))
		path = "" // never overwrite a file the user has to repair
	}
	if !cfg.intervalSet && prefs.Interval.Duration >= minInterval {
		cfg.Interval = prefs.Interval.Duration
	}
	src, err := openSources(cfg)
	if err != nil {
		return err
	}
	defer src.close()
	if src.cap != nil && !cfg.packetFilterSet && prefs.PacketFilter != "" {
		if err := src.cap.SetPacketFilter(prefs.PacketFilter); err != nil {
			status = append(status, fmt.Sprintf("saved packet filter not used: %v", err))
		}
	}
	if src.cap != nil {
		src.cap.SetViewing(true) // the packets pane shows packets from the start, as tcpdump does; c turns it off
	}
	src.closeBatches = true
	pl, err := openPipeline(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer pl.close()
	status = append(status, pl.notes...)
	src.start(ctx)
	opts := ui.Options{
		Samples:   src.samples,
		Batches:   src.batches,
		Interface: cfg.Interface,
		Status:    status,
		Interval:  cfg.Interval,
		Prefs:     prefs,
		PrefsPath: path,
		ASCII:     cfg.ASCII,

		OnInterval: func(st *monitor.State) { pl.interval(st) },
		Alerts:     pl.alerts,
	}
	if h := pl.hist; h != nil {
		opts.History = h.store
		opts.Baselines = h.base
	}
	if src.cap != nil {
		opts.Capture = src.cap // a nil *capture.Capture would make a non-nil interface
	} else {
		opts.CaptureOff = src.off
	}
	if src.smp != nil {
		opts.RequestRefresh = src.smp.RequestRefresh
	}
	err = ui.Run(ctx, opts)
	_, capErr := src.stop()
	if cerr := src.close(); err == nil {
		err = cerr
	}
	if err == nil && capErr != nil && !errors.Is(capErr, context.Canceled) {
		// a damaged replay file: the UI showed it; say it where it stays
		err = capErr
	}
	return err
}
