package detect

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/wiretop/wiretop/monitor"
)

// View is what the detectors see of one closed interval (built by monitor.State.DetectView).
type View = monitor.DetectView

// Finding is one key for which a detector's condition holds in an interval.
type Finding struct {
	Key      string         // the key without the rule's name, e.g. "in/198.18.110.2->198.18.110.1"
	Summary  string         // one line for people
	Evidence map[string]any // the numbers that tripped it
	// Firing is true when the value is at or above the firing level; false when it is below
	// it but still above the clear level (hysteresis): that keeps a firing alert firing and
	// a pending one pending, and starts nothing.
	Firing bool
	// Src and Dst, when valid, are checked against the rule's allow_sources and
	// allow_destinations.
	Src, Dst netip.Addr
}

// Detector is the condition of a rule. Check may keep state between intervals (sliding
// windows, a learning period) but does no I/O and reads no clock: now is the interval's end.
type Detector interface {
	// Check reports the findings of the interval v through emit.
	Check(v *View, now time.Time, emit func(Finding))
	// params are the detector's settings, for the rules file and `wiretop rules`.
	params() []param
	// clone returns a detector with the same settings and a fresh state.
	clone() Detector
}

// Rule is one detection rule: a name, a severity, a condition (its Detector), how long the
// condition must hold before the alert fires (For), how long it must stay below the clear
// level before the alert resolves (Hold), and allow-lists. A rule value is inert; an
// Engine evaluates it.
type Rule struct {
	Name     string
	Doc      string // one line: what the rule detects
	Severity Severity
	Enabled  bool
	For      time.Duration
	Hold     time.Duration
	// Attack rules (scans, floods, brute force, reverse shells) may fire during the warm-up.
	Attack bool
	// Off, when set, says why an enabled rule cannot run (e.g. no history for baselines).
	Off string
	// AllowSrc and AllowDst: findings whose source or destination is in one of these are
	// ignored (a scanner of your own, a backup server).
	AllowSrc, AllowDst []netip.Prefix
	Detector           Detector
}

func (r *Rule) allowed(f *Finding) bool {
	in := func(a netip.Addr, ps []netip.Prefix) bool {
		if !a.IsValid() {
			return false
		}
		a = a.Unmap()
		for _, p := range ps {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return in(f.Src, r.AllowSrc) || in(f.Dst, r.AllowDst)
}

// MaxAlertsPerRule bounds the alerts one rule holds at once; findings for further keys are
// dropped (and counted in Engine.Dropped) until some resolve. A flood from a million
// spoofed sources is one alert per victim, never one per source; this is the backstop.
const MaxAlertsPerRule = 256

// KeepResolved is how long Current keeps a resolved alert, for the alerts pane.
const KeepResolved = 15 * time.Minute

// DefaultWarmUp is the start of a run during which only attack rules fire: rates and
// counts are not settled yet (the first interval's deltas, sockets opened at start-up).
const DefaultWarmUp = 60 * time.Second

// entry is the bookkeeping of one alert key (prometheus/rules/alerting.go's Alert).
type entry struct {
	alert     Alert
	rule      int       // index in Engine.rules
	activeAt  time.Time // when the condition began to hold
	lastAbove time.Time // the latest evaluation at which it held (Firing or in the band)
	seen      bool      // found in the current evaluation
}

// Engine evaluates rules interval by interval and keeps the alerts' lifecycle: pending
// (the condition holds, not yet for For), firing (announced once), resolved (announced
// once, after the condition stayed below its clear level for Hold). It is not safe for
// concurrent use; it does no I/O and reads no clock.
type Engine struct {
	rules   []*Rule
	warmUp  time.Duration
	start   time.Time
	alerts  map[string]*entry
	perRule []int
	out     []Alert
	facts   facts // the interval's flow facts hashed, for the rules that read them
	// Dropped counts findings dropped because their rule held MaxAlertsPerRule alerts.
	Dropped int
}

// New returns an engine over the rules of rs.
func New(rs *RuleSet) *Engine {
	e := &Engine{rules: rs.Rules, warmUp: rs.WarmUp, alerts: map[string]*entry{}, perRule: make([]int, len(rs.Rules))}
	for _, r := range e.rules {
		if fr, ok := r.Detector.(factReader); ok {
			fr.shareFacts(&e.facts)
		}
	}
	return e
}

// Rules returns the engine's rules.
func (e *Engine) Rules() []*Rule { return e.rules }

// Eval runs every enabled rule over the interval v that ends at now and returns the
// transitions: alerts that began firing and alerts that resolved, each once. Pending alerts
// are not returned (Current shows them). The returned slice is reused by the next Eval.
func (e *Engine) Eval(v *View, now time.Time) []Alert {
	if e.start.IsZero() {
		e.start = now
		if v != nil && !v.Start.IsZero() && v.Start.Before(now) {
			e.start = v.Start
		}
	}
	warm := now.Sub(e.start) < e.warmUp
	e.out = e.out[:0]
	for _, en := range e.alerts {
		en.seen = false
	}
	if v != nil && e.readsFacts() {
		e.facts.build(v)
		defer func() { e.facts.of = nil }()
	}
	for i, r := range e.rules {
		if !r.Enabled || r.Off != "" || r.Detector == nil {
			continue
		}
		quiet := warm && !r.Attack
		r.Detector.Check(v, now, func(f Finding) {
			if quiet || r.allowed(&f) {
				return
			}
			e.found(i, r, &f, now)
		})
	}
	for key, en := range e.alerts {
		switch en.alert.State {
		case Pending:
			if !en.seen {
				delete(e.alerts, key) // the condition ended before For: never announced
				e.perRule[en.rule]--
			}
		case Firing:
			if !en.seen && now.Sub(en.lastAbove) >= e.rules[en.rule].Hold {
				en.alert.State = Resolved
				en.alert.Resolved = now
				e.out = append(e.out, e.copyAlert(en))
			}
		case Resolved:
			if now.Sub(en.alert.Resolved) >= KeepResolved {
				delete(e.alerts, key)
				e.perRule[en.rule]-- // its place under the cap is free again
			}
		}
	}
	slices.SortFunc(e.out, func(a, b Alert) int {
		return cmp.Or(cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Key, b.Key))
	})
	return e.out
}

// readsFacts says whether a rule that runs reads the flow facts.
func (e *Engine) readsFacts() bool {
	for _, r := range e.rules {
		if _, ok := r.Detector.(factReader); ok && r.Enabled && r.Off == "" {
			return true
		}
	}
	return false
}

func (e *Engine) found(i int, r *Rule, f *Finding, now time.Time) {
	key := r.Name + "/" + f.Key
	en := e.alerts[key]
	if en != nil && en.alert.State == Resolved {
		if !f.Firing {
			return
		}
		delete(e.alerts, key) // it starts again: a new alert
		e.perRule[i]--
		en = nil
	}
	if en == nil {
		if !f.Firing {
			return // in the band below the firing level: starts nothing
		}
		if e.perRule[i] >= MaxAlertsPerRule {
			e.Dropped++
			return
		}
		en = &entry{rule: i, activeAt: now, alert: Alert{Rule: r.Name, Severity: r.Severity, Key: key, State: Pending, Started: now}}
		e.alerts[key] = en
		e.perRule[i]++
	}
	en.seen = true
	en.lastAbove = now
	if f.Firing {
		// the evidence of the latest interval that tripped it (in the band, a firing alert
		// keeps the evidence that made it fire)
		en.alert.Summary, en.alert.Evidence = f.Summary, f.Evidence
	}
	if en.alert.State == Pending && f.Firing && now.Sub(en.activeAt) >= r.For {
		en.alert.State = Firing
		e.out = append(e.out, e.copyAlert(en))
	}
}

// copyAlert returns the alert with its own evidence map, so that a sink may keep it.
func (e *Engine) copyAlert(en *entry) Alert {
	a := en.alert
	if a.Evidence != nil {
		ev := make(map[string]any, len(a.Evidence))
		for k, v := range a.Evidence {
			ev[k] = v
		}
		a.Evidence = ev
	}
	return a
}

// Current returns the alerts held now: pending, firing, and resolved in the last
// KeepResolved, newest first.
func (e *Engine) Current() []Alert {
	out := make([]Alert, 0, len(e.alerts))
	for _, en := range e.alerts {
		out = append(out, e.copyAlert(en))
	}
	slices.SortFunc(out, func(a, b Alert) int {
		return cmp.Or(b.Started.Compare(a.Started), cmp.Compare(a.Key, b.Key))
	})
	return out
}
