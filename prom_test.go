package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Helpers for the tests that run Debian's prometheus and prometheus-alertmanager on
// 127.0.0.1, on free ports, with temporary configs and data directories.

// freeAddr returns a loopback address with a port nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// promServer is a running Prometheus.
type promServer struct {
	url string // http://127.0.0.1:PORT
	log *strings.Builder
}

// startPrometheus runs prometheus scraping target (host:port, /metrics) every second,
// evaluating ruleFiles every second and sending alerts to alertmanager (host:port) if set.
func startPrometheus(t *testing.T, target, alertmanager string, ruleFiles ...string) *promServer {
	t.Helper()
	requireTool(t, "prometheus")
	dir := t.TempDir()
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n")
	fmt.Fprintf(&cfg, "scrape_configs:\n  - job_name: wiretop\n    static_configs:\n      - targets: [%q]\n", target)
	if len(ruleFiles) > 0 {
		fmt.Fprintf(&cfg, "rule_files:\n")
		for _, f := range ruleFiles {
			abs, err := filepath.Abs(f)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&cfg, "  - %q\n", abs)
		}
	}
	if alertmanager != "" {
		fmt.Fprintf(&cfg, "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [%q]\n", alertmanager)
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	p := &promServer{url: "http://" + addr, log: &strings.Builder{}}
	cmd := exec.Command("prometheus", "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitHTTP(t, p.url+"/-/ready", 20*time.Second, p.log)
	return p
}

// startAlertmanager runs prometheus-alertmanager with one receiver that sends nowhere, and
// returns its address (host:port).
func startAlertmanager(t *testing.T) string {
	t.Helper()
	requireTool(t, "prometheus-alertmanager")
	dir := t.TempDir()
	cfg := "route:\n  receiver: none\n  group_wait: 1s\n  group_interval: 1s\nreceivers:\n  - name: none\n"
	cfgPath := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	log := &strings.Builder{}
	cmd := exec.Command("prometheus-alertmanager", "--config.file="+cfgPath, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitHTTP(t, "http://"+addr+"/-/ready", 20*time.Second, log)
	return addr
}

func waitHTTP(t *testing.T, u string, timeout time.Duration, log *strings.Builder) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not ready within %v: %s", u, timeout, log)
}

// promSample is one series of an instant vector.
type promSample struct {
	Metric map[string]string
	Value  float64
}

// query runs an instant query at time at (now when zero) and returns the vector; a
// Prometheus error fails the test.
func (p *promServer) query(t *testing.T, q string, at time.Time) []promSample {
	t.Helper()
	v := url.Values{"query": {q}}
	if !at.IsZero() {
		v.Set("time", strconv.FormatFloat(float64(at.UnixNano())/1e9, 'f', 3, 64))
	}
	resp, err := http.Get(p.url + "/api/v1/query?" + v.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r struct {
		Status, Error string
		Data          struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		}
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Status != "success" {
		t.Fatalf("query %q: %v %s: %s", q, err, r.Error, body)
	}
	var out []promSample
	switch r.Data.ResultType {
	case "vector":
		var vec []struct {
			Metric map[string]string
			Value  [2]any
		}
		if err := json.Unmarshal(r.Data.Result, &vec); err != nil {
			t.Fatal(err)
		}
		for _, s := range vec {
			f, _ := strconv.ParseFloat(s.Value[1].(string), 64)
			out = append(out, promSample{s.Metric, f})
		}
	case "scalar":
		var s [2]any
		if err := json.Unmarshal(r.Data.Result, &s); err != nil {
			t.Fatal(err)
		}
		f, _ := strconv.ParseFloat(s[1].(string), 64)
		out = append(out, promSample{nil, f})
	default:
		t.Fatalf("query %q: result type %s", q, r.Data.ResultType)
	}
	return out
}

// one runs q and returns its single value; no value or several fail the test.
func (p *promServer) one(t *testing.T, q string, at time.Time) float64 {
	t.Helper()
	v := p.query(t, q, at)
	if len(v) != 1 {
		t.Fatalf("query %q: %d series, want 1: %v", q, len(v), v)
	}
	return v[0].Value
}

// waitQuery polls q until it returns at least one series.
func (p *promServer) waitQuery(t *testing.T, q string, timeout time.Duration) []promSample {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if v := p.query(t, q, time.Time{}); len(v) > 0 {
			return v
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s: no series within %v; prometheus log: %s", q, timeout, p.log)
	return nil
}
