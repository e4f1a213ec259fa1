package detect

import (
	"strings"
	"testing"
	"time"
)

// TestLoadErrorsNameLineAndKey: every kind of mistake in a rules file is one line naming
// the file, the line and the key, and leaves the rules as they were.
func TestLoadErrorsNameLineAndKey(t *testing.T) {
	for _, c := range []struct {
		name, doc, prefix, want string
	}{
		{"unknown rule", "warm_up = \"1s\"\n\n[portscan]\nports = 5\n", "", "f:3: portscan: unknown rule"},
		{"config-file table in a --rules file", "warm_up = \"0s\"\n[rules.exfiltration]\nlearn = \"3s\"\n", "", "f:2: rules: unknown rule"},
		{"unknown key", "[exfiltration]\nbytes = 10\nratoi = 3\n", "", "f:3: exfiltration.ratoi: unknown key"},
		{"wrong type", "[exfiltration]\nwindow = 15\n", "", "f:2: exfiltration.window:"},
		{"out of range", "[exfiltration]\nclear = 2.0\n", "", "f:2: exfiltration.clear: 2: must be between 0 and 1"},
		{"config file", "interval = \"1s\"\n[rules.exfiltration]\nbytes = 0\n", "rules", "f:3: rules.exfiltration.bytes:"},
		{"TOML syntax", "[exfiltration\nbytes = 1\n", "", "f:2: expected"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs := DefaultRules()
			err := rs.Load([]byte(c.doc), "f", c.prefix)
			if err == nil || !strings.HasPrefix(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line starting %q", err, c.want)
			}
			if rs.WarmUp != DefaultWarmUp || rs.Rule(RuleExfiltration).Detector.(*exfiltration).Bytes != 100<<20 {
				t.Errorf("a failed load changed the rules")
			}
		})
	}
	rs := DefaultRules()
	if err := rs.Load([]byte("warm_up = \"0s\"\n[exfiltration]\nlearn = \"3s\"\nallow_destinations = [\"198.18.0.0/15\"]\n"), "f", ""); err != nil {
		t.Fatal(err)
	}
	if d := rs.Rule(RuleExfiltration).Detector.(*exfiltration); d.Learn != 3*time.Second || rs.WarmUp != 0 {
		t.Errorf("learn %v warm_up %v", d.Learn, rs.WarmUp)
	}
}
