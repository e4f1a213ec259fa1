package notify

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wiretop/wiretop/detect"
)

var t0 = time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)

func firing(key string) detect.Alert {
	return detect.Alert{
		Rule: "port_scan", Severity: detect.Critical, Key: "port_scan/" + key,
		Summary:  key + " scanned 1000 ports",
		Evidence: map[string]any{"source": key, "ports": 1000},
		State:    detect.Firing, Started: t0,
	}
}

func resolved(a detect.Alert) detect.Alert {
	a.State, a.Resolved = detect.Resolved, t0.Add(time.Minute)
	return a
}

// errs collects what the sinks report.
type errs struct {
	mu   sync.Mutex
	list []error
	ch   chan error
}

func newErrs() *errs { return &errs{ch: make(chan error, 100)} }

func (e *errs) report(err error) {
	e.mu.Lock()
	e.list = append(e.list, err)
	e.mu.Unlock()
	select {
	case e.ch <- err:
	default:
	}
}

func (e *errs) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-e.ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no error reported")
		return nil
	}
}

func mustNew(t *testing.T, o Options) *Notifier {
	t.Helper()
	n, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestLogAppendsOneLinePerTransition(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	for round := 0; round < 2; round++ { // a second run appends
		n := mustNew(t, Options{LogPath: path})
		a := firing("198.18.120.2")
		n.Send([]detect.Alert{a, resolved(a)})
		if err := n.Close(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	f, _ := os.Open(path)
	defer f.Close()
	var got []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, m)
	}
	if len(got) != 4 {
		t.Fatalf("%d lines, want 4", len(got))
	}
	want := map[string]any{
		"type": "alert", "rule": "port_scan", "severity": "critical", "key": "port_scan/198.18.120.2",
		"summary": "198.18.120.2 scanned 1000 ports", "evidence": map[string]any{"source": "198.18.120.2", "ports": 1000.0},
		"state": "resolved", "started": "2026-12-06T04:00:00Z", "resolved": "2026-12-06T04:01:00Z", "time": "2026-12-06T04:01:00Z",
	}
	if d := cmp.Diff(want, got[3]); d != "" {
		t.Errorf("resolved line (-want +got):\n%s", d)
	}
	if got[2]["state"] != "firing" || got[2]["resolved"] != nil {
		t.Errorf("firing line: %v", got[2])
	}
}

func TestExecHookGetsEnvAndStdinUninterpreted(t *testing.T) {
	dir := t.TempDir()
	out, envOut, canary := filepath.Join(dir, "stdin"), filepath.Join(dir, "env"), filepath.Join(dir, "pwned")
	// the script quotes its arguments: only a program that builds a shell string from the
	// alert would run the evidence
	script := `cat > "$1"; env | grep '^WIRETOP_ALERT_' | sort > "$2"`
	n := mustNew(t, Options{Exec: []string{"/bin/sh", "-c", script, "hook", out, envOut}})
	a := firing("198.18.120.3")
	hostile := "$(touch " + canary + ")`touch " + canary + "`;touch " + canary
	a.Evidence = map[string]any{"process": hostile}
	a.Summary = hostile
	n.Send([]detect.Alert{a})
	if err := n.Close(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(canary); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the hostile evidence ran: %v", err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	if rec["summary"] != hostile || rec["key"] != a.Key || rec["state"] != "firing" {
		t.Errorf("stdin record: %v", rec)
	}
	env, _ := os.ReadFile(envOut)
	for _, want := range []string{
		"WIRETOP_ALERT_KEY=port_scan/198.18.120.3", "WIRETOP_ALERT_RULE=port_scan", "WIRETOP_ALERT_SEVERITY=critical",
		"WIRETOP_ALERT_STATE=firing", "WIRETOP_ALERT_STARTED=2026-12-06T04:00:00Z", "WIRETOP_ALERT_SUMMARY=" + hostile,
	} {
		if !strings.Contains(string(env), want+"\n") {
			t.Errorf("environment lacks %q:\n%s", want, env)
		}
	}
	if !strings.Contains(string(env), `WIRETOP_ALERT_EVIDENCE={"process":`) {
		t.Errorf("no evidence JSON in:\n%s", env)
	}
}

func TestExecHookFailureIsReported(t *testing.T) {
	e := newErrs()
	n := mustNew(t, Options{Exec: []string{"/bin/sh", "-c", "echo mail: no such user >&2; exit 3"}, Report: e.report})
	n.Send([]detect.Alert{firing("198.18.120.4")})
	err := e.wait(t)
	for _, want := range []string{"alert sink exec", "exit status 3", "mail: no such user", "port_scan/198.18.120.4"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	_ = n.Close(time.Second)
	if s := n.Stats()[0]; s.Failed != 1 || s.Sent != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestExecHookTimeout(t *testing.T) {
	e := newErrs()
	n := mustNew(t, Options{Exec: []string{"/bin/sleep", "30"}, Timeout: 300 * time.Millisecond, Report: e.report})
	n.Send([]detect.Alert{firing("198.18.120.5")})
	if err := e.wait(t); !strings.Contains(err.Error(), "killed after its timeout") {
		t.Errorf("error %q", err)
	}
	_ = n.Close(time.Second)
}

func TestBadConfigIsOneErrorAtStart(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{WebhookURL: "127.0.0.1:9093"}, `--alert-webhook "127.0.0.1:9093": `},
		{Options{WebhookURL: "http://[::1"}, `--alert-webhook "http://[::1":`},
		{Options{Alertmanager: "ftp://host/"}, `--alertmanager "ftp://host/": want an http:// or https:// URL`},
		{Options{Exec: []string{"/no/such/program"}}, `alert exec hook: exec: "/no/such/program"`},
		{Options{Exec: []string{"no-such-program-wiretop"}}, `executable file not found in $PATH`},
		{Options{LogPath: filepath.Join(dir, "missing", "alerts.jsonl")}, "alerts log: open"},
		{Options{LogPath: filepath.Join(dir, "log"), Exec: []string{"/no/such"}}, "alert exec hook"},
	} {
		n, err := New(tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: error %v, want one line with %q", tc.o, err, tc.want)
		}
		if n != nil {
			t.Errorf("%+v: a notifier with an error", tc.o)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "log")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a failed start created the log")
	}
}

// TestHungSinkNeverBlocksSend posts to a server that never answers: Send returns at once
// for every transition, the queue keeps the newest, the rest are counted as dropped, and
// Close gives up at its deadline.
func TestHungSinkNeverBlocksSend(t *testing.T) {
	hang := make(chan struct{})
	var mu sync.Mutex
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hang)
	logPath := filepath.Join(t.TempDir(), "alerts.jsonl")
	n := mustNew(t, Options{WebhookURL: srv.URL, Alertmanager: srv.URL, LogPath: logPath, QueueLen: 4, Timeout: time.Hour, Report: func(err error) { t.Log(err) }})
	logOnly := mustNew(t, Options{LogPath: logPath + ".2", QueueLen: 200})
	first := []detect.Alert{firing("198.18.121.0")}
	n.Send(first)
	logOnly.Send(first)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		r := requests
		mu.Unlock()
		if r == 2 {
			break // both network sinks hang in their first delivery
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests", r)
		}
	}
	sent := make(chan struct{})
	go func() {
		for i := 1; i < 100; i++ {
			a := []detect.Alert{firing("198.18.121." + string(rune('0'+i%10)))}
			n.Send(a)
			logOnly.Send(a)
		}
		close(sent)
	}()
	select {
	case <-sent:
	case <-time.After(10 * time.Second):
		t.Fatal("Send blocked behind a hung sink")
	}
	st := n.Stats()
	for _, s := range st[:2] {
		// one transition is under way (hung), four are queued, the rest dropped
		if s.Dropped != 95 || s.Queued != 4 {
			t.Errorf("%s: %+v, want 95 dropped and 4 queued", s.Sink, s)
		}
	}
	err := n.Close(500 * time.Millisecond)
	for _, want := range []string{"alert sink webhook: not flushed by the close deadline: 4 transitions dropped",
		"alert sink alertmanager: not flushed by the close deadline: 4 transitions dropped"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("close: %v, want %q", err, want)
		}
	}
	if err := logOnly.Close(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	// a log with room in its queue, beside hung sinks, wrote all 100
	data, _ := os.ReadFile(logPath + ".2")
	if got := strings.Count(string(data), "\n"); got != 100 {
		t.Errorf("log has %d lines, want 100", got)
	}
}

// TestWebhookRetriesThenDelivers answers 503 twice: the third attempt is received.
func TestWebhookRetriesThenDelivers(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	got := make(chan WebhookMessage, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		c := calls
		mu.Unlock()
		if c < 3 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var m WebhookMessage
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("body %s: %v", body, err)
		}
		got <- m
	}))
	defer srv.Close()
	n := mustNew(t, Options{WebhookURL: srv.URL + "/hook", Instance: "lab", Backoff: 10 * time.Millisecond, GeneratorURL: "http://lab:9813/"})
	a := resolved(firing("198.18.120.6"))
	n.Send([]detect.Alert{a})
	var m WebhookMessage
	select {
	case m = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook")
	}
	if err := n.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	ls := map[string]string{"alertname": "port_scan", "severity": "critical", "key": a.Key, "instance": "lab"}
	ann := map[string]string{"summary": a.Summary, "source": "198.18.120.6", "ports": "1000"}
	want := WebhookMessage{
		Version: "4", GroupKey: `{}:{alertname="port_scan", key="port_scan/198.18.120.6"}`, Status: "resolved",
		Receiver: "wiretop", GroupLabels: map[string]string{"alertname": "port_scan", "key": a.Key},
		CommonLabels: ls, CommonAnnotations: ann, ExternalURL: "http://lab:9813/",
		Alerts: []WebhookAlert{{Status: "resolved", Labels: ls, Annotations: ann, StartsAt: t0, EndsAt: t0.Add(time.Minute),
			GeneratorURL: "http://lab:9813/", Fingerprint: fingerprint(ls)}},
	}
	if d := cmp.Diff(want, m); d != "" {
		t.Errorf("webhook (-want +got):\n%s", d)
	}
}

func TestFingerprintMatchesPrometheusModel(t *testing.T) {
	// prometheus/common model: LabelSet{"a": "b"}.Fingerprint() and the empty set's
	if got := fingerprint(map[string]string{}); got != "cbf29ce484222325" {
		t.Errorf("empty: %s", got)
	}
	if fingerprint(map[string]string{"a": "b", "c": "d"}) == fingerprint(map[string]string{"a": "bc", "": "d"}) {
		t.Error("the separator does not separate")
	}
}
