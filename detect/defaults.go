package detect

import "time"

// Rule names.
const (
	RuleThreshold    = "threshold"
	RuleSynFlood     = "syn_flood"
	RulePortScan     = "port_scan"
	RuleBruteForce   = "brute_force"
	RuleConnSurge    = "conn_surge"
	RuleReverseShell = "reverse_shell"
	RuleNewListener  = "new_listener"
	RuleErrorsDrops  = "errors_drops"
	RuleBaseline     = "baseline"
	RuleExfiltration = "exfiltration"
)

// DefaultRules returns the built-in rules with their default settings (docs/detection.md
// gives each condition and where its defaults come from).
func DefaultRules() *RuleSet {
	rs := &RuleSet{WarmUp: DefaultWarmUp, sources: map[string]string{}}
	rs.Rules = []*Rule{
		{Name: RuleThreshold, Doc: "an interface's receive or transmit rate above a limit", Severity: Warning,
			Enabled: false, For: 10 * time.Second, Hold: 10 * time.Second, Detector: newThreshold()},
		{Name: RuleSynFlood, Doc: "half-open connections piling up on a local port, or the kernel's SYN queue overflowing", Severity: Critical,
			Enabled: true, Attack: true, Hold: 5 * time.Second, Detector: newSynFlood()},
		{Name: RulePortScan, Doc: "one source failing to connect to many ports of one host (inbound or outbound)", Severity: Warning,
			Enabled: true, Attack: true, Detector: newPortScan()},
		{Name: RuleBruteForce, Doc: "many short connections from one source to an authentication port, inbound or outbound", Severity: Critical,
			Enabled: true, Attack: true, Detector: newBruteForce()},
		{Name: RuleConnSurge, Doc: "CLOSE-WAIT piling up in a process, SYN-SENT piling up, ESTAB or new connections far above the baseline", Severity: Warning,
			Enabled: true, For: 30 * time.Second, Hold: 30 * time.Second, Detector: newConnSurge()},
		{Name: RuleReverseShell, Doc: "a shell or interpreter whose stdin or stdout is a TCP connection to a remote host", Severity: Critical,
			Enabled: true, Attack: true, Detector: newReverseShell()},
		{Name: RuleNewListener, Doc: "a port listening that was not listening during the learning period", Severity: Warning,
			Enabled: true, Detector: newNewListener()},
		{Name: RuleErrorsDrops, Doc: "interface errors and drops, or capture drops, above a share of the packets", Severity: Warning,
			Enabled: true, For: 10 * time.Second, Hold: 30 * time.Second, Detector: newErrorsDrops()},
		{Name: RuleExfiltration, Doc: "far more bytes sent to one remote host than it usually gets, and far more than it sends back", Severity: Critical,
			Enabled: true, Hold: 30 * time.Second, Detector: newExfiltration()},
		{Name: RuleBaseline, Doc: "an interface rate or the ESTAB count outside the same-hour-of-week band (needs history)", Severity: Warning,
			Enabled: true, For: 5 * time.Minute, Hold: 5 * time.Minute, Detector: newBaseline()},
	}
	return rs
}
