package detect

import "time"

// Severity ranks an alert, as Prometheus rules label them.
type Severity string

// The severities (DESIGN.md, "Detection and alerts").
const (
	Info     Severity = "info"
	Warning  Severity = "warning"
	Critical Severity = "critical"
)

// AlertState is where an alert is in its lifecycle, as in Prometheus: a condition that holds
// is pending until it has held for the rule's For, then firing; it is resolved once the
// condition has stayed below the clear level for the rule's hold time.
type AlertState string

// The alert states.
const (
	Pending  AlertState = "pending"
	Firing   AlertState = "firing"
	Resolved AlertState = "resolved"
)

// Alert is one alert of one rule for one key. Sinks (the TUI's alerts pane, the JSON lines,
// the alerts log, the exec hook, the webhook, Alertmanager, the history database, the
// metrics) all take this value.
type Alert struct {
	Rule     string         // the rule's name, e.g. "port_scan"
	Severity Severity       // info, warning or critical
	Key      string         // stable while the condition lasts: rule + source + target, e.g. "port_scan/in/198.18.75.66->198.18.70.10"
	Summary  string         // one line for people: "198.18.70.2 scanned 1000 ports of 198.18.70.1 in 3s"
	Evidence map[string]any // the numbers that tripped the rule (JSON-friendly values)
	State    AlertState     // pending, firing or resolved
	Started  time.Time      // when the condition began to hold (pending) or the alert fired
	Resolved time.Time      // when it resolved; zero while it is pending or firing
}
