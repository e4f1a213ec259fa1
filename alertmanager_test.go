package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The path of an alert from wiretop to Alertmanager: wiretop's threshold detector fires on a
// lab veth and exports wiretop_alert_firing, Prometheus scrapes it and evaluates the shipped
// WiretopDetectorFiring rule, and Alertmanager receives the alert.

// amWindow is how long, from the trigger, the alert has to reach Alertmanager; the quiet
// twin watches as long.
const amWindow = 20 * time.Second

// amAlert is one alert as Alertmanager's /api/v2/alerts lists it.
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

func amAlerts(t *testing.T, am string) []amAlert {
	t.Helper()
	resp, err := http.Get("http://" + am + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out []amAlert
	if resp.StatusCode != 200 {
		t.Fatalf("alertmanager /api/v2/alerts: %s: %s", resp.Status, body)
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("alertmanager /api/v2/alerts: %v: %s", err, body)
	}
	return out
}

// amFind returns the alerts named alertname that Alertmanager holds.
func amFind(t *testing.T, am, alertname string) []amAlert {
	t.Helper()
	var out []amAlert
	for _, a := range amAlerts(t, am) {
		if a.Labels["alertname"] == alertname {
			out = append(out, a)
		}
	}
	return out
}

// detectorAlertRules writes a rule file derived from deploy/prometheus/wiretop.alerts.yml:
// its WiretopDetectorFiring rule as shipped but with for: 2s instead of 1m (so that the test
// takes seconds), and a canary, WiretopTestCanary, that fires as soon as wiretop is scraped
// and shows that the path from Prometheus to Alertmanager works.
func detectorAlertRules(t *testing.T) string {
	t.Helper()
	shipped, err := os.ReadFile("deploy/prometheus/wiretop.alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)\n( *- alert: WiretopDetectorFiring\n.*?)(?:\n *- alert: |\z)`).FindSubmatch(shipped)
	if m == nil {
		t.Fatal("wiretop.alerts.yml has no WiretopDetectorFiring rule")
	}
	rule := string(m[1])
	forRe := regexp.MustCompile(`(?m)^(\s+for:) 1m$`)
	if !forRe.MatchString(rule) || !strings.Contains(rule, "expr: wiretop_alert_firing == 1") {
		t.Fatalf("WiretopDetectorFiring changed (this test shortens its for: 1m): %s", rule)
	}
	rule = forRe.ReplaceAllString(rule, "$1 2s")
	doc := "groups:\n  - name: wiretop-alerts-test\n    rules:\n" + strings.TrimRight(rule, "\n") + "\n" +
		"      - alert: WiretopTestCanary\n        expr: wiretop_build_info == 1\n        labels:\n          severity: none\n"
	path := filepath.Join(t.TempDir(), "alerts.yml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("promtool", "check", "rules", path).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules on the derived file: %v\n%s\n%s", err, out, doc)
	}
	return path
}

// alertLab is a lab with an iperf3 server, `wiretop daemon` capturing on its veth with only
// the threshold detector (10 Mbit/s), a real Alertmanager and a Prometheus scraping wiretop
// with the derived rules and sending to Alertmanager. It returns once the canary has
// reached Alertmanager.
type alertLab struct {
	*lab
	addr, am string
	prom     *promServer
	w        *wtRun
}

func newAlertLab(t *testing.T, subnet int, shipped bool) *alertLab {
	t.Helper()
	l := newLab(t, subnet)
	requireTool(t, "iperf3")
	requireTool(t, "promtool")
	rules := []string{detectorAlertRules(t)}
	if shipped {
		// the shipped file itself, and from the derived one only the canary
		canary := filepath.Join(t.TempDir(), "canary.yml")
		if err := os.WriteFile(canary, []byte("groups:\n  - name: wiretop-test-canary\n    rules:\n"+
			"      - alert: WiretopTestCanary\n        expr: wiretop_build_info == 1\n        labels:\n          severity: none\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		rules = []string{"deploy/prometheus/wiretop.alerts.yml", canary}
	}
	l.serve(t, 5201, "iperf3", "-s", "-1", "-p", "5201")

	a := &alertLab{lab: l, addr: freeAddr(t), am: startAlertmanager(t)}
	a.w = startWiretop(t, nil, "daemon", "--json", "--metrics", a.addr, "-i", l.hostIf, "--interval", "1s",
		"--rules", detectorRulesFile(t, l.hostIf))
	a.w.waitFirst(t, 10*time.Second)
	a.prom = startPrometheus(t, a.addr, a.am, rules...)
	deadline := time.Now().Add(20 * time.Second)
	for len(amFind(t, a.am, "WiretopTestCanary")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the canary alert did not reach Alertmanager within 20s; prometheus log: %s", a.prom.log)
		}
		time.Sleep(250 * time.Millisecond)
	}
	return a
}

// TestAlertmanagerReceivesDetectorAlert: an iperf3 transfer at 50 Mbit/s over the veth for
// 90 s trips the threshold detector (10 Mbit/s); Prometheus, loaded with the shipped
// deploy/prometheus/wiretop.alerts.yml unchanged (WiretopDetectorFiring: for 1m), delivers
// an active WiretopDetectorFiring alert for that rule, interface and direction, from that
// wiretop, with the shipped rule's labels and annotations, within a minute and a half.
func TestAlertmanagerReceivesDetectorAlert(t *testing.T) {
	a := newAlertLab(t, 132, true)
	start := time.Now()
	iperf := exec.Command("iperf3", "-c", a.nsIP, "-p", "5201", "-t", "90", "-b", "50M", "-l", "64K", "--json")
	if err := iperf.Start(); err != nil {
		t.Fatalf("iperf3: %v", err)
	}
	t.Cleanup(func() { _ = iperf.Process.Kill(); _ = iperf.Wait() })
	const window = 90 * time.Second        // the rule's for: 1m, after the detector fired
	key := "threshold/" + a.hostIf + "/tx" // the detector's key: rule/interface/direction
	for {
		got := amFind(t, a.am, "WiretopDetectorFiring")
		for _, al := range got {
			lb := al.Labels
			if lb["rule"] != "threshold" || lb["key"] != key {
				continue
			}
			if lb["instance"] != a.addr || lb["job"] != "wiretop" || lb["severity"] != "warning" || al.Status.State != "active" {
				t.Errorf("alert %v in state %s: want instance %s, job wiretop, severity warning, active", lb, al.Status.State, a.addr)
			}
			if want := "wiretop on " + a.addr + ": threshold (" + key + ")"; al.Annotations["summary"] != want {
				t.Errorf("summary %q, want %q", al.Annotations["summary"], want)
			}
			t.Logf("Alertmanager holds %v %s after %v", lb, al.Status.State, time.Since(start).Round(100*time.Millisecond))
			return
		}
		if time.Since(start) > window {
			firing := a.prom.query(t, `wiretop_alert_firing`, time.Time{})
			alerts := a.prom.query(t, `ALERTS`, time.Time{})
			t.Fatalf("no WiretopDetectorFiring alert for %s in Alertmanager within %v (it holds %v); wiretop_alert_firing %v, ALERTS %v; prometheus log: %s",
				key, window, got, firing, alerts, a.prom.log)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestAlertmanagerQuietWithoutTrigger is its twin: the same lab, wiretop, rules, Prometheus
// and Alertmanager (the canary arrives, so alerts do get through), but no transfer: for
// amWindow no WiretopDetectorFiring alert reaches Alertmanager and wiretop exports no
// firing detector.
func TestAlertmanagerQuietWithoutTrigger(t *testing.T) {
	a := newAlertLab(t, 133, false) // the shipped rule with for: 2s: quiet is a strong claim
	start := time.Now()
	for time.Since(start) < amWindow {
		if got := amFind(t, a.am, "WiretopDetectorFiring"); len(got) > 0 {
			t.Fatalf("a quiet link raised %d alerts after %v: %v", len(got), time.Since(start).Round(100*time.Millisecond), got)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if f := a.prom.query(t, `wiretop_alert_firing`, time.Time{}); len(f) > 0 {
		t.Errorf("wiretop_alert_firing on a quiet link: %v", f)
	}
	if len(amFind(t, a.am, "WiretopTestCanary")) == 0 {
		t.Error("the canary alert left Alertmanager")
	}
	_, tx := devCounters(t, a.hostIf)
	t.Logf("no detector alert in %v; the veth sent %d bytes in the whole test", amWindow, tx)
}
