package main

import (
	"context"

	"github.com/wiretop/wiretop/sampler"
	"github.com/wiretop/wiretop/ui"
)

// runTUI starts the sampler and the terminal UI, and stops the sampler when the UI quits.
func runTUI(ctx context.Context, cfg Config) error {
	smp, err := sampler.New(sampler.Options{ProcRoot: cfg.ProcRoot, Interval: cfg.Interval, NoNetlink: cfg.NoNetlink})
	if err != nil {
		return err
	}
	defer smp.Close()
	runCtx, cancel := context.WithCancel(ctx)
	ch := make(chan *sampler.Sample, 4)
	stopped := make(chan struct{})
	go func() { smp.Run(runCtx, ch); close(stopped) }()
	err = ui.Run(ctx, ui.Options{
		Samples:   ch,
		Interface: cfg.Interface,
		Status:    []string{"capture: not wired into the TUI yet"},
		Interval:  cfg.Interval,
	})
	cancel()
	<-stopped
	return err
}
