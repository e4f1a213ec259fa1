// Package notify delivers alert transitions (detect.Alert values that fired or resolved) to
// sinks outside the process: an alerts log (JSON Lines), an exec hook (a program run without
// a shell, the alert in WIRETOP_ALERT_* variables and as JSON on stdin), a webhook in
// Alertmanager's webhook format, and Alertmanager's own API (/api/v2/alerts).
//
// Each sink runs on a goroutine of its own behind a bounded queue: Send never blocks the
// monitor's goroutine; when a sink falls behind, the oldest queued transitions are dropped
// and counted. Deliveries have timeouts, the network sinks retry with backoff, and Close
// flushes what is queued within a deadline.
package notify
