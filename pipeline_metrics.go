package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/wiretop/wiretop/metrics"
	"github.com/wiretop/wiretop/monitor"
)

// metricsStage serves /metrics (issue 10); p gives it the alerts.
//
// Race-free by construction: interval runs on the goroutine that owns the monitor.State and
// builds an immutable metrics.Snapshot there, published through an atomic pointer; the HTTP
// server's goroutines only load that pointer. No lock is held by the state's owner, and no
// scrape reads the state.
type metricsStage struct {
	exp *metrics.Exporter
	p   *pipeline
	srv *http.Server
	ln  net.Listener
	end chan error
}

// openMetricsStage listens on cfg.Metrics and serves the exporter there. An address that is
// taken or invalid is an error, before anything else starts.
func openMetricsStage(ctx context.Context, cfg Config, p *pipeline) (*metricsStage, []string, error) {
	if cfg.Metrics == "" {
		return nil, nil, nil
	}
	if cfg.MetricsTop < 0 {
		return nil, nil, fmt.Errorf("--metrics-top %d: must be 0 or more", cfg.MetricsTop)
	}
	ln, err := net.Listen("tcp", cfg.Metrics)
	if err != nil {
		return nil, nil, fmt.Errorf("--metrics %s: %w", cfg.Metrics, err)
	}
	m := &metricsStage{p: p, ln: ln, end: make(chan error, 1)}
	m.exp = metrics.New(metrics.Options{Top: cfg.MetricsTop, Version: version, Capture: !cfg.NoCapture && cfg.ReplayFile == "", Interval: cfg.Interval})
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.exp.Handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "wiretop exporter: metrics at /metrics")
	})
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	go func() { m.end <- m.srv.Serve(ln) }()
	return m, []string{"metrics on http://" + ln.Addr().String() + "/metrics"}, nil
}

// interval lets the exporter see the interval just closed: it runs on the state's owner.
func (m *metricsStage) interval(st *monitor.State) {
	if m == nil {
		return
	}
	m.exp.Observe(st, m.p.alerts())
}

// close stops the server, letting scrapes in flight finish for up to 2 s.
func (m *metricsStage) close() error {
	if m == nil || m.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := m.srv.Shutdown(ctx)
	if serr := <-m.end; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	m.srv = nil
	return err
}
