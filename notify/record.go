package notify

import (
	"time"

	"github.com/wiretop/wiretop/detect"
)

// Record is an alert's "type":"alert" JSON object, the one shape that headless JSON lines,
// the alerts log and the exec hook's stdin share: DESIGN.md's fixed fields (rule, severity,
// key, summary, evidence, state, started, and resolved once it resolved) and time, the moment
// of the transition.
func Record(a detect.Alert) map[string]any {
	rec := map[string]any{
		"type":     "alert",
		"time":     a.Started.Format(time.RFC3339Nano),
		"rule":     a.Rule,
		"severity": a.Severity,
		"key":      a.Key,
		"summary":  a.Summary,
		"evidence": a.Evidence,
		"state":    a.State,
		"started":  a.Started.Format(time.RFC3339Nano),
	}
	if a.State == detect.Resolved {
		rec["time"] = a.Resolved.Format(time.RFC3339Nano)
		rec["resolved"] = a.Resolved.Format(time.RFC3339Nano)
	}
	return rec
}
