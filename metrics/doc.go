// Package metrics is wiretop's Prometheus exporter: one collector, in node_exporter's
// pattern, that emits const metrics from the latest closed interval of a monitor.State.
//
// The state is owned by one goroutine (the headless loop or the Bubble Tea model) and is not
// locked. So the work is split in two: on the owner's goroutine, after each interval,
// Exporter.Observe reads the state and builds a Snapshot, a compact and bounded value that
// is never changed once built, and publishes it with an atomic pointer; at scrape time the
// collector loads that pointer and only reads the snapshot. A scrape that runs while the
// state is being updated sees the previous interval whole, never a half-applied one, and
// costs nothing on the owner's goroutine.
//
// Processes, remote hosts and ports are exported as a sticky top N (Options.Top) by the
// bytes of the last hour: a key stays while its hour's bytes, with a 25% bonus for being
// exported already, rank in the top N, so that keys near the edge do not flap. An exported
// counter is the key's bytes since wiretop first tracked it, kept by the exporter itself, so
// it never goes backwards while the series stays. There is no "(other)" series: it would
// fall when a key joins the top N. The rest is the interface (or captured) total minus the
// sum, in PromQL (README, "Metrics").
package metrics
