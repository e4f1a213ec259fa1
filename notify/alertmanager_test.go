package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wiretop/wiretop/detect"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startAlertmanager runs Debian's prometheus-alertmanager on loopback, clustering off, with
// one receiver: a webhook to hookURL, grouped by alertname and key, resolved alerts sent.
func startAlertmanager(t *testing.T, hookURL string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		t.Skip("prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)")
	}
	dir := t.TempDir()
	conf := fmt.Sprintf(`global:
  resolve_timeout: 5m
route:
  receiver: hook
  group_by: [alertname, key]
  group_wait: 100ms
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: %q
        send_resolved: true
`, hookURL)
	cf := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--config.file="+cf, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	waitFor(t, "alertmanager ready", func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return base
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// gettableAlert is what GET /api/v2/alerts lists.
type gettableAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Fingerprint string            `json:"fingerprint"`
	StartsAt    time.Time         `json:"startsAt"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

func listAlerts(t *testing.T, base string) []gettableAlert {
	t.Helper()
	resp, err := http.Get(base + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []gettableAlert
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// hook is a webhook receiver that keeps every body it is posted.
type hook struct {
	srv    *httptest.Server
	bodies chan []byte
}

func newHook(t *testing.T) *hook {
	h := &hook{bodies: make(chan []byte, 64)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.bodies <- b
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// next returns the next body whose status is want.
func (h *hook) next(t *testing.T, want string) []byte {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case b := <-h.bodies:
			var m struct{ Status string }
			if json.Unmarshal(b, &m) == nil && m.Status == want {
				return b
			}
		case <-timeout:
			t.Fatalf("no %s webhook", want)
			return nil
		}
	}
}

// TestAlertmanagerAPIAndWebhook posts a firing alert to a real Alertmanager's API, finds it
// listed with its labels and our fingerprint, receives Alertmanager's own webhook for it
// (whose JSON must have exactly the fields of the webhook sink's, with the same labels), then
// resolves it and sees it leave the list and the resolved webhook arrive.
func TestAlertmanagerAPIAndWebhook(t *testing.T) {
	fromAM := newHook(t)
	base := startAlertmanager(t, fromAM.srv.URL)
	fromUs := newHook(t)
	e := newErrs()
	n := mustNew(t, Options{Alertmanager: base + "/", WebhookURL: fromUs.srv.URL, Instance: "lab-host",
		Report: e.report, Resend: 200 * time.Millisecond})
	a := firing("198.18.122.2")
	a.Started = time.Now().Add(-time.Second).UTC().Truncate(time.Millisecond)
	a.Summary = "198.18.122.2 scanned 1000 ports of 198.18.122.1"
	n.Send([]detect.Alert{{Rule: a.Rule, Key: a.Key + "/pending", State: detect.Pending, Started: a.Started}, a})

	var got []gettableAlert
	waitFor(t, "the alert listed", func() bool { got = listAlerts(t, base); return len(got) > 0 })
	ls := map[string]string{"alertname": "port_scan", "severity": "critical", "key": a.Key, "instance": "lab-host"}
	if len(got) != 1 {
		t.Fatalf("listed %d alerts (a pending one was sent?): %+v", len(got), got)
	}
	g := got[0]
	if d := cmp.Diff(ls, g.Labels); d != "" {
		t.Errorf("labels (-want +got):\n%s", d)
	}
	wantAnn := map[string]string{"summary": a.Summary, "source": "198.18.122.2", "ports": "1000"}
	if d := cmp.Diff(wantAnn, g.Annotations); d != "" {
		t.Errorf("annotations (-want +got):\n%s", d)
	}
	if g.Fingerprint != fingerprint(ls) || g.Status.State != "active" || !g.StartsAt.Equal(a.Started) {
		t.Errorf("listed %+v, want fingerprint %s, active, started %v", g, fingerprint(ls), a.Started)
	}

	amFiring, ourFiring := fromAM.next(t, "firing"), fromUs.next(t, "firing")
	sameShape(t, amFiring, ourFiring)

	// the resend keeps it listed; then it resolves
	time.Sleep(500 * time.Millisecond)
	r := resolved(a)
	r.Resolved = time.Now().UTC()
	n.Send([]detect.Alert{r})
	waitFor(t, "the alert to leave the list", func() bool { return len(listAlerts(t, base)) == 0 })
	amResolved, ourResolved := fromAM.next(t, "resolved"), fromUs.next(t, "resolved")
	sameShape(t, amResolved, ourResolved)
	if err := n.Close(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-e.ch:
		t.Errorf("a sink failed: %v", err)
	default:
	}
	// after the close, no resend brings it back
	time.Sleep(300 * time.Millisecond)
	if l := listAlerts(t, base); len(l) != 0 {
		t.Errorf("listed again after resolving: %+v", l)
	}
}

// sameShape compares Alertmanager's webhook body with ours: the same keys at the top and in
// each alert, the same version, status, labels, annotations and fingerprint.
func sameShape(t *testing.T, amBody, ourBody []byte) {
	t.Helper()
	var am, us map[string]any
	if err := json.Unmarshal(amBody, &am); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(ourBody, &us); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(keys(am), keys(us)); d != "" {
		t.Errorf("top-level fields (-alertmanager +ours):\n%s", d)
	}
	amA, usA := am["alerts"].([]any)[0].(map[string]any), us["alerts"].([]any)[0].(map[string]any)
	if d := cmp.Diff(keys(amA), keys(usA)); d != "" {
		t.Errorf("alert fields (-alertmanager +ours):\n%s", d)
	}
	for _, k := range []string{"version", "status", "commonLabels", "groupLabels", "commonAnnotations"} {
		if d := cmp.Diff(am[k], us[k]); d != "" {
			t.Errorf("%s (-alertmanager +ours):\n%s", k, d)
		}
	}
	for _, k := range []string{"status", "labels", "annotations", "fingerprint", "startsAt"} {
		if d := cmp.Diff(amA[k], usA[k]); d != "" {
			t.Errorf("alerts[0].%s (-alertmanager +ours):\n%s", k, d)
		}
	}
	// Alertmanager's groupKey starts with its route's matchers ("{}" for the root route)
	if !strings.HasPrefix(am["groupKey"].(string), "{}:{") || am["groupKey"] != us["groupKey"] {
		t.Errorf("groupKey: alertmanager %q, ours %q", am["groupKey"], us["groupKey"])
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
