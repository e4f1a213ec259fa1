package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// scripted is a detector whose findings are given per interval: "F" fires, "b" is in the
// hysteresis band, "." is nothing.
type scripted struct {
	steps []string
	i     int
}

func (d *scripted) Check(v *View, now time.Time, emit func(Finding)) {
	s := d.steps[d.i]
	d.i++
	switch s {
	case "F":
		emit(Finding{Key: "k", Firing: true, Summary: fmt.Sprint("step ", d.i)})
	case "b":
		emit(Finding{Key: "k", Firing: false, Summary: "band"})
	}
}
func (d *scripted) params() []param { return nil }
func (d *scripted) clone() Detector { return d }

// TestEngineLifecycle replays intervals of one second and asserts the exact transitions:
// For before firing, one announcement per transition, hysteresis through the band and the
// hold time, the warm-up, and pending never announced.
func TestEngineLifecycle(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name   string
		attack bool
		forD   time.Duration
		hold   time.Duration
		warmUp time.Duration
		steps  string
		want   string // per interval: "" or "firing" / "resolved", joined by ","
	}{
		{"fires at once, resolves once", true, 0, 0, 0, "FFF..", "firing,,,resolved,"},
		{"for: pending two intervals first", true, 2 * time.Second, 0, 0, "FFFF.", ",,firing,,resolved"},
		{"pending that ends is never announced", true, 3 * time.Second, 0, 0, "FF.FF", ",,,,"},
		{"band keeps it firing, starts nothing", true, 0, 0, 0, "bFbbb.b", ",firing,,,,resolved,"},
		{"hold: resolves after 2 s below clear", true, 0, 2 * time.Second, 0, "F...F..", "firing,,resolved,,firing,,resolved"},
		{"hold: back above within hold is the same alert", true, 0, 2 * time.Second, 0, "F.F...", "firing,,,,resolved,"},
		{"warm-up silences a volume rule", false, 0, 0, 3 * time.Second, "FFFFF.", ",,,firing,,resolved"},
		{"warm-up does not silence an attack", true, 0, 0, 3 * time.Second, "F.....", "firing,resolved,,,,"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs := &RuleSet{WarmUp: c.warmUp, Rules: []*Rule{{Name: "r", Severity: Warning, Enabled: true, Attack: c.attack,
				For: c.forD, Hold: c.hold, Detector: &scripted{steps: strings.Split(c.steps, "")}}}}
			e := New(rs)
			var got []string
			var firedKey string
			for i := range c.steps {
				now := t0.Add(time.Duration(i) * time.Second)
				out := e.Eval(&View{Time: now}, now)
				var s []string
				for _, a := range out {
					s = append(s, string(a.State))
					if a.State == Firing {
						firedKey = a.Key
						if cur := e.Current(); len(cur) != 1 || cur[0].State != Firing {
							t.Errorf("interval %d: Current = %v, want the firing alert", i, cur)
						}
					}
					if a.State == Resolved && a.Key != firedKey {
						t.Errorf("resolved key %q, fired %q", a.Key, firedKey)
					}
				}
				got = append(got, strings.Join(s, "+"))
			}
			if diff := cmp.Diff(c.want, strings.Join(got, ",")); diff != "" {
				t.Errorf("transitions (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEnginePendingVisible: a pending alert is in Current but not in Eval's transitions.
func TestEnginePendingVisible(t *testing.T) {
	rs := &RuleSet{Rules: []*Rule{{Name: "r", Enabled: true, Attack: true, For: time.Minute, Detector: &scripted{steps: []string{"F"}}}}}
	e := New(rs)
	now := time.Unix(100, 0)
	if out := e.Eval(&View{}, now); len(out) != 0 {
		t.Fatalf("transitions %v, want none", out)
	}
	cur := e.Current()
	if len(cur) != 1 || cur[0].State != Pending || cur[0].Key != "r/k" {
		t.Fatalf("Current = %+v, want one pending r/k", cur)
	}
}

// TestEngineAllowAndCap: allow-listed sources are ignored, and one rule holds at most
// MaxAlertsPerRule alerts.
func TestEngineAllowAndCap(t *testing.T) {
	many := detFunc(func(v *View, now time.Time, emit func(Finding)) {
		for i := 0; i < 3*MaxAlertsPerRule; i++ {
			emit(Finding{Key: fmt.Sprint(i), Firing: true, Src: mustAddr(fmt.Sprintf("198.18.%d.%d", 110+i/250, i%250+1))})
		}
	})
	rs := &RuleSet{Rules: []*Rule{{Name: "r", Enabled: true, Attack: true, Detector: many,
		AllowSrc: []netipPrefix{mustPrefix("198.18.110.0/24")}}}}
	e := New(rs)
	out := e.Eval(&View{}, time.Unix(1, 0))
	if len(out) != MaxAlertsPerRule {
		t.Errorf("%d alerts fired, want the cap %d", len(out), MaxAlertsPerRule)
	}
	for _, a := range out {
		var i int
		if _, err := fmt.Sscan(strings.TrimPrefix(a.Key, "r/"), &i); err != nil || i < 250 { // 0..249 are in the allowed /24
			t.Fatalf("alert %s from an allowed source", a.Key)
		}
	}
	if e.Dropped == 0 {
		t.Error("Dropped = 0, want the findings beyond the cap counted")
	}
}

// TestEngineCapFreedAfterForget: alerts that resolved and were forgotten give their place
// under the cap back, so a rule keeps firing on new keys after more than MaxAlertsPerRule
// of them came and went.
func TestEngineCapFreedAfterForget(t *testing.T) {
	round := 0
	fire := true
	d := detFunc(func(v *View, now time.Time, emit func(Finding)) {
		if fire {
			emit(Finding{Key: fmt.Sprint("k", round), Firing: true})
		}
	})
	e := New(&RuleSet{Rules: []*Rule{{Name: "r", Enabled: true, Attack: true, Detector: d}}})
	now := time.Unix(1000, 0)
	for round = 0; round < MaxAlertsPerRule+50; round++ {
		fire = true
		out := e.Eval(&View{}, now)
		if len(out) != 1 || out[0].State != Firing {
			t.Fatalf("round %d: %v, want the new key firing (dropped %d)", round, out, e.Dropped)
		}
		fire = false
		now = now.Add(time.Second)
		e.Eval(&View{}, now) // resolves
		now = now.Add(KeepResolved)
		e.Eval(&View{}, now) // forgets
		now = now.Add(time.Second)
	}
}
