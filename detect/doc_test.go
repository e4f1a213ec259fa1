package detect

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// docPath is the user documentation of the rules, relative to this package.
const docPath = "../docs/detection.md"

// TestDetectionDocCoversDefaultRules fails when docs/detection.md falls behind the code: a
// rule of DefaultRules without its section, a setting missing from its rule's table, a
// documented default that is not the code's, or a documented rule or setting that the code
// no longer has.
func TestDetectionDocCoversDefaultRules(t *testing.T) {
	data, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("the rules' documentation: %v", err)
	}
	for _, p := range docProblems(string(data), DefaultRules()) {
		t.Error(p)
	}
}

// TestDocProblemsFindsGaps is the twin: the checker accepts a page that matches and names
// each kind of gap in one that does not.
func TestDocProblemsFindsGaps(t *testing.T) {
	rs := &RuleSet{WarmUp: time.Minute, sources: map[string]string{}, Rules: []*Rule{
		{Name: "errors_drops", Severity: Warning, Enabled: true, For: 10 * time.Second, Hold: 30 * time.Second, Detector: newErrorsDrops()},
	}}
	good := "# Detection\n\n### `warm_up`\n\n| key | default | meaning |\n| --- | --- | --- |\n| `warm_up` | `\"60s\"` | |\n\n" +
		"## The rules\n\n### `errors_drops`\n\nText.\n\n| key | default | meaning |\n| --- | --- | --- |\n" +
		"| `enabled` | `true` | |\n| `severity` | `\"warning\"` | |\n| `for` | `\"10s\"` | |\n| `hold` | `\"30s\"` | |\n" +
		"| `allow_sources` | `[]` | |\n| `allow_destinations` | `[]` | |\n| `share` | `0.01` | |\n| `floor` | `10` | |\n" +
		"| `clear` | `0.5` | |\n\n## Not yet\n"
	if p := docProblems(good, rs); len(p) != 0 {
		t.Fatalf("a page that matches: problems %q", p)
	}
	for _, c := range []struct {
		name, old, new string
		want           string // a substring of one of the problems
	}{
		{"a rule without its section", "### `errors_drops`", "### errors and drops", "errors_drops: no section"},
		{"a setting missing", "| `floor` | `10` | |\n", "", "errors_drops.floor: not in the table"},
		{"a wrong default", "| `share` | `0.01` |", "| `share` | `0.05` |", "errors_drops.share: documented default 0.05, the code's is 0.01"},
		{"a wrong duration", "| `hold` | `\"30s\"` |", "| `hold` | `\"5m\"` |", "errors_drops.hold: documented default"},
		{"a wrong top-level default", "`\"60s\"`", "`\"30s\"`", "warm_up: documented default"},
		{"a setting the code does not have", "| `clear` | `0.5` | |\n", "| `clear` | `0.5` | |\n| `ratio` | `2` | |\n", "errors_drops.ratio: documented, but not a setting"},
		{"a rule the code does not have", "## Not yet\n", "### `exfiltration`\n\n| `enabled` | `true` | |\n\n## Not yet\n", "exfiltration: documented, but not a rule"},
		{"a default that is not TOML", "| `floor` | `10` |", "| `floor` | `ten` |", "errors_drops.floor: documented default"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(good, c.old) {
				t.Fatalf("the test page has no %q", c.old)
			}
			probs := docProblems(strings.Replace(good, c.old, c.new, 1), rs)
			for _, p := range probs {
				if strings.Contains(p, c.want) {
					return
				}
			}
			t.Errorf("problems %q, want one with %q", probs, c.want)
		})
	}
}

var (
	docHeading = regexp.MustCompile("^#{2,4} +`([a-z_]+)`")
	docRow     = regexp.MustCompile("^\\| *`([a-z_]+)` *\\| *`([^`]*)` *\\|")
)

// docProblems compares the page doc with the settings of rs. Each rule is a section whose
// heading starts with its name in backticks ("### `port_scan`"), and warm_up is the section
// "### `warm_up`"; in each, a table row "| `key` | `DEFAULT` | ... |" per setting, DEFAULT
// written as a TOML value.
func docProblems(doc string, rs *RuleSet) []string {
	rows := map[string]map[string]string{} // section -> key -> default
	var order []string
	section := ""
	for _, l := range strings.Split(doc, "\n") {
		if strings.HasPrefix(l, "#") {
			section = ""
			if m := docHeading.FindStringSubmatch(l); m != nil {
				section = m[1]
				if rows[section] == nil {
					rows[section] = map[string]string{}
					order = append(order, section)
				}
			}
			continue
		}
		if m := docRow.FindStringSubmatch(l); m != nil && section != "" {
			rows[section][m[1]] = m[2]
		}
	}
	var probs []string
	known := map[string]map[string]bool{}
	for _, s := range rs.Settings() {
		sec := s.Rule
		if sec == "" {
			sec = s.Key // the top-level settings have a section each
		}
		id := s.Key
		if s.Rule != "" {
			id = s.Rule + "." + s.Key
		}
		if known[sec] == nil {
			known[sec] = map[string]bool{}
			if rows[sec] == nil {
				probs = append(probs, fmt.Sprintf("%s: no section \"### `%s`\" in %s", sec, sec, docPath))
			}
		}
		known[sec][s.Key] = true
		if rows[sec] == nil {
			continue
		}
		text, ok := rows[sec][s.Key]
		if !ok {
			probs = append(probs, fmt.Sprintf("%s: not in the table of \"### `%s`\"", id, sec))
			continue
		}
		var v map[string]any
		if _, err := toml.Decode("v = "+text, &v); err != nil || !sameValue(v["v"], s.Value) {
			probs = append(probs, fmt.Sprintf("%s: documented default %s, the code's is %s", id, text, tomlValue(s.Value)))
		}
	}
	for _, sec := range order {
		if known[sec] == nil {
			probs = append(probs, fmt.Sprintf("%s: documented, but not a rule of DefaultRules", sec))
			continue
		}
		keys := make([]string, 0, len(rows[sec]))
		for k := range rows[sec] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !known[sec][k] {
				id := k
				if sec != k {
					id = sec + "." + k
				}
				probs = append(probs, fmt.Sprintf("%s: documented, but not a setting", id))
			}
		}
	}
	return probs
}

// sameValue says whether a decoded TOML value doc is the setting's value code (as Settings
// gives it): durations compare as durations ("60s" is "1m0s"), numbers as numbers.
func sameValue(doc, code any) bool {
	switch c := code.(type) {
	case string:
		d, ok := doc.(string)
		if !ok {
			return false
		}
		if dd, err := time.ParseDuration(d); err == nil {
			if cd, err := time.ParseDuration(c); err == nil {
				return dd == cd
			}
		}
		return d == c
	case bool:
		d, ok := doc.(bool)
		return ok && d == c
	case int:
		return sameNumber(doc, float64(c))
	case float64:
		return sameNumber(doc, c)
	case []string:
		return sameList(doc, len(c), func(i int) any { return c[i] })
	case []int:
		return sameList(doc, len(c), func(i int) any { return c[i] })
	}
	return false
}

func sameNumber(doc any, c float64) bool {
	switch d := doc.(type) {
	case int64:
		return float64(d) == c
	case float64:
		return d == c
	}
	return false
}

func sameList(doc any, n int, elem func(int) any) bool {
	l, ok := doc.([]any)
	if !ok || len(l) != n {
		return false
	}
	for i := range l {
		if !sameValue(l[i], elem(i)) {
			return false
		}
	}
	return true
}

// tomlValue writes a setting's value as TOML, for the messages.
func tomlValue(v any) string {
	var b strings.Builder
	if err := toml.NewEncoder(&b).Encode(map[string]any{"v": v}); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(strings.TrimPrefix(b.String(), "v = "))
}
