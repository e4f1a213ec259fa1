package ui

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wiretop/wiretop/detect"
	"github.com/wiretop/wiretop/monitor"
)

// alertFixture is what the detectors hold at t0+40s in these tests: a critical scan firing,
// a flood pending, a listener that fired and resolved.
func alertFixture() []detect.Alert {
	return []detect.Alert{
		{Rule: "new_listener", Severity: detect.Warning, Key: "new_listener/tcp/4444", Summary: "nc listens on 0.0.0.0:4444",
			Evidence: map[string]any{"port": 4444, "process": "nc"}, State: detect.Resolved,
			Started: t0.Add(5 * time.Second), Resolved: t0.Add(30 * time.Second)},
		{Rule: "syn_flood", Severity: detect.Critical, Key: "syn_flood/10.0.0.2:443", Summary: "half-open SYNs to 10.0.0.2:443",
			Evidence: map[string]any{"half_open": 76}, State: detect.Pending, Started: t0.Add(39 * time.Second)},
		{Rule: "port_scan", Severity: detect.Critical, Key: "port_scan/198.18.0.1->10.0.0.2",
			Summary:  "198.18.0.1 scanned 1000 ports of 10.0.0.2 in 3s",
			Evidence: map[string]any{"source": "198.18.0.1", "ports": 1000, "window": "3s"}, State: detect.Firing,
			Started: t0.Add(20 * time.Second)},
	}
}

// alertSource is a mutable Options.Alerts.
type alertSource struct {
	mu     sync.Mutex
	alerts []detect.Alert
}

func (s *alertSource) get() []detect.Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.alerts
}

func (s *alertSource) set(a []detect.Alert) {
	s.mu.Lock()
	s.alerts = a
	s.mu.Unlock()
}

func TestAlertsPaneOrdersAndShowsEvidence(t *testing.T) {
	st := fixtureState(40)
	src := &alertSource{alerts: alertFixture()}
	p := newAlertsPane(st, NewStyles(DefaultTheme()), src.get, fixedClock)
	p.SetSize(100, 12)
	if got := p.Title(); got != "Alerts · 1 firing · 3 listed" {
		t.Errorf("title %q", got)
	}
	lines := p.View(100, 12)
	if len(lines) != 12 {
		t.Fatalf("%d lines", len(lines))
	}
	rows := lines[1:4]
	for i, want := range []string{"▲ firing", "pending", "resolved"} {
		if !strings.Contains(rows[i], want) {
			t.Errorf("row %d %q: want %q", i, rows[i], want)
		}
	}
	// ages: the scan fired 20s before the last sample (t0+40s), the flood is pending for 1s,
	// the listener resolved 10s ago
	for _, want := range []string{"critical  port_scan", "20s", "1s", "10s"} {
		if !strings.Contains(strings.Join(rows, "\n"), want) {
			t.Errorf("rows lack %q:\n%s", want, strings.Join(rows, "\n"))
		}
	}
	view := strings.Join(lines, "\n")
	for _, want := range []string{"key port_scan/198.18.0.1->10.0.0.2", "evidence ports=1000 source=198.18.0.1 window=3s"} {
		if !strings.Contains(view, want) {
			t.Errorf("view lacks %q:\n%s", want, view)
		}
	}
	// down moves the selection to the pending flood; its evidence shows
	p.Update(keyMsg("down"))
	view = strings.Join(p.View(100, 12), "\n")
	if !strings.Contains(view, "key syn_flood/10.0.0.2:443") || !strings.Contains(view, "evidence half_open=76") {
		t.Errorf("after down:\n%s", view)
	}
	// the list is read again when an interval closes, and the cursor stays on a row
	src.set(alertFixture()[:1])
	p.Update(SampleMsg{fixtureSample(41)})
	if got := p.Title(); got != "Alerts · 0 firing · 1 listed" {
		t.Errorf("after reload: %q", got)
	}
	if view := strings.Join(p.View(100, 12), "\n"); !strings.Contains(view, "key new_listener/tcp/4444") {
		t.Errorf("after reload:\n%s", view)
	}
	src.set(nil)
	p.Update(refreshMsg{})
	if view := strings.Join(p.View(100, 12), "\n"); !strings.Contains(view, "no alerts") {
		t.Errorf("empty:\n%s", view)
	}
}

// TestAlertsBadgeAndFocusKey: the header counts firing alerts after each interval, and !
// brings the alerts pane up in place of the grid; tab leaves it.
func TestAlertsBadgeAndFocusKey(t *testing.T) {
	src := &alertSource{}
	opts := fixtureOptions()
	opts.Alerts = src.get
	opts.OnInterval = func(*monitor.State) {}
	m := fixtureModelWith(NewModel(opts), 5, 120, 40)
	if !strings.Contains(m.View(), "alerts 0") {
		t.Fatalf("no alerts 0 in the header:\n%s", m.View())
	}
	src.set(alertFixture())
	m = update(m, SampleMsg{fixtureSample(6)})
	screen := m.View()
	if !strings.Contains(strings.Split(screen, "\n")[0], "⚠ 1 alert firing") {
		t.Errorf("header %q", strings.Split(screen, "\n")[0])
	}
	if strings.Contains(screen, "port_scan") {
		t.Error("the alerts pane shows before it is focused")
	}
	m = update(m, keyMsg("!"))
	screen = m.View()
	checkScreen(t, screen, 120, 40)
	if got := focusedTitle(t, screen); !strings.HasPrefix(got, "4 Alerts · 1 firing") || !strings.Contains(got, "│ 1 Bandwidth") {
		t.Errorf("focused %q", got)
	}
	if !strings.Contains(screen, "198.18.0.1 scanned 1000 ports of 10.0.0.2 in 3s") {
		t.Errorf("no alert row:\n%s", screen)
	}
	m = update(m, keyMsg("tab"))
	if got := focusedTitle(t, m.View()); !strings.HasPrefix(got, "1 Bandwidth") || !strings.Contains(m.View(), "╭─ 2 TCP states") {
		t.Errorf("after tab: %q", got)
	}
	// without Options.Alerts there is no pane, and ! does nothing
	m = fixtureModel(5, 120, 40)
	before := m.View()
	if m = update(m, keyMsg("!")); m.View() != before {
		t.Error("! changed a screen without alerts")
	}
}

// The alerts pane focused with ! over the whole screen, a critical alert firing.
func TestGoldenAlerts(t *testing.T) {
	src := &alertSource{alerts: alertFixture()}
	opts := fixtureOptions()
	opts.Alerts = src.get
	opts.OnInterval = func(*monitor.State) {}
	runGolden(t, opts, nil, []string{"alert firing"}, []goldenStep{{"!", "scanned 1000 ports"}})
}
