package main

import (
	"context"
	"errors"

	"github.com/wiretop/wiretop/monitor"
)

// metricsStage serves /metrics (issue 10); p gives it the alerts.
type metricsStage struct{}

func openMetricsStage(ctx context.Context, cfg Config, p *pipeline) (*metricsStage, []string, error) {
	if cfg.Metrics != "" {
		return nil, nil, errors.New("--metrics: the Prometheus exporter is not part of this build yet")
	}
	return nil, nil, nil
}

// interval lets the exporter see the interval just closed.
func (m *metricsStage) interval(st *monitor.State) {}

func (m *metricsStage) close() error { return nil }
