package detect

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// param is one setting of a rule: its TOML key, what it means, and a pointer to its value
// (*bool, *int, *float64, *string, *time.Duration, *Severity, *[]string, *[]netip.Prefix).
type param struct {
	key string
	doc string
	ptr any
	// check validates the value once set ("" when it is fine).
	check func() string
}

func atLeast[T int | float64](v *T, lo T) func() string {
	return func() string {
		if *v < lo {
			return fmt.Sprintf("must be at least %v", lo)
		}
		return ""
	}
}

// RuleSet is the rules in force: the built-in defaults, overridden per key by the config
// file's [rules] section and then by a --rules file.
type RuleSet struct {
	WarmUp time.Duration // only attack rules fire before this much of a run has passed
	Rules  []*Rule
	// sources says where each value came from: "default", or "FILE:LINE".
	sources map[string]string
}

// Setting is one value of the rules in force, for `wiretop rules`.
type Setting struct {
	Rule   string `json:"rule"` // "" for the top-level settings (warm_up)
	Key    string `json:"key"`
	Value  any    `json:"value"`
	Source string `json:"source"` // "default" or "FILE:LINE"
	Doc    string `json:"doc"`
}

// Rule returns the rule named name, or nil.
func (rs *RuleSet) Rule(name string) *Rule {
	for _, r := range rs.Rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// commonParams are the keys every rule has.
func commonParams(r *Rule) []param {
	return []param{
		{key: "enabled", doc: "run this rule", ptr: &r.Enabled},
		{key: "severity", doc: `"info", "warning" or "critical"`, ptr: &r.Severity, check: func() string {
			if r.Severity != Info && r.Severity != Warning && r.Severity != Critical {
				return `want "info", "warning" or "critical"`
			}
			return ""
		}},
		{key: "for", doc: "how long the condition holds before the alert fires", ptr: &r.For, check: nonNegative(&r.For)},
		{key: "hold", doc: "how long the condition stays below its clear level before the alert resolves", ptr: &r.Hold, check: nonNegative(&r.Hold)},
		{key: "allow_sources", doc: "sources (addresses or CIDR prefixes) never alerted on", ptr: &r.AllowSrc},
		{key: "allow_destinations", doc: "destinations (addresses or CIDR prefixes) never alerted on", ptr: &r.AllowDst},
	}
}

func nonNegative(d *time.Duration) func() string {
	return func() string {
		if *d < 0 {
			return "must not be negative"
		}
		return ""
	}
}

func positive(d *time.Duration) func() string {
	return func() string {
		if *d <= 0 {
			return "must be positive"
		}
		return ""
	}
}

func (rs *RuleSet) params() map[string][]param {
	m := map[string][]param{"": {{key: "warm_up", doc: "only attack rules fire this long after the start of a run", ptr: &rs.WarmUp, check: nonNegative(&rs.WarmUp)}}}
	for _, r := range rs.Rules {
		ps := commonParams(r)
		if r.Detector != nil {
			ps = append(ps, r.Detector.params()...)
		}
		m[r.Name] = ps
	}
	return m
}

// Settings lists every value in force with its source: warm_up first, then each rule's
// keys in the order the rule declares them.
func (rs *RuleSet) Settings() []Setting {
	ps := rs.params()
	var out []Setting
	add := func(rule string) {
		for _, p := range ps[rule] {
			id := p.key
			if rule != "" {
				id = rule + "." + p.key
			}
			src := rs.sources[id]
			if src == "" {
				src = "default"
			}
			out = append(out, Setting{Rule: rule, Key: p.key, Value: display(p.ptr), Source: src, Doc: p.doc})
		}
	}
	add("")
	for _, r := range rs.Rules {
		add(r.Name)
	}
	return out
}

// display returns a value as the rules file writes it.
func display(ptr any) any {
	switch v := ptr.(type) {
	case *time.Duration:
		return v.String()
	case *Severity:
		return string(*v)
	case *[]netip.Prefix:
		s := make([]string, len(*v))
		for i, p := range *v {
			s[i] = p.String()
		}
		return s
	case *bool:
		return *v
	case *int:
		return *v
	case *float64:
		return *v
	case *string:
		return *v
	case *[]string:
		return append([]string{}, *v...)
	case *[]int:
		return append([]int{}, *v...)
	}
	return nil
}

// Load applies the rules of a TOML document (name is its path, for messages). With prefix
// "rules" (the config file), only the [rules] table is read and the rest of the file is
// left to the other readers; with prefix "" (a --rules file) every table must be a rule.
// An unknown rule or key, a value of the wrong type, or a value out of range is an error
// that names the file, the line and the key; the rule set is then unchanged.
func (rs *RuleSet) Load(data []byte, name, prefix string) error {
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			line := perr.Position.Line
			if s := perr.Position.Start; line < 1 && s >= 0 && s <= len(data) {
				// the parser says line 0 for some errors at the end of the first line
				// (`"\` alone): count the lines up to the error's offset
				line = 1 + bytes.Count(data[:s], []byte("\n"))
			}
			return fmt.Errorf("%s:%d: %s", name, line, oneLine(perr.Message))
		}
		return fmt.Errorf("%s: %s", name, oneLine(err.Error()))
	}
	if prefix != "" {
		sub, ok := doc[prefix]
		if !ok {
			return nil
		}
		t, ok := sub.(map[string]any)
		if !ok {
			return fmt.Errorf("%s:%d: %s must be a table", name, lineOf(data, "", prefix), prefix)
		}
		doc = t
	}
	// Work on a copy, so that a bad value leaves rs as it was.
	next := rs.clone()
	ps := next.params()
	path := func(parts ...string) string {
		if prefix != "" {
			parts = append([]string{prefix}, parts...)
		}
		return strings.Join(parts, ".")
	}
	// shown is a key's dotted path as a message shows it: a key that is not bare TOML (a
	// quoted key may hold a newline or a dot) in quotes, so that an error stays one line.
	shown := func(parts ...string) string {
		if prefix != "" {
			parts = append([]string{prefix}, parts...)
		}
		for i, p := range parts {
			if !bareKey(p) {
				parts[i] = strconv.Quote(p)
			}
		}
		return strings.Join(parts, ".")
	}
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := doc[k]
		if t, ok := v.(map[string]any); ok {
			rp, known := ps[k]
			if !known || k == "" {
				return fmt.Errorf("%s:%d: %s: unknown rule (rules: %s)", name, lineOf(data, path(), k), shown(k), strings.Join(next.names(), ", "))
			}
			tk := make([]string, 0, len(t))
			for kk := range t {
				tk = append(tk, kk)
			}
			sort.Strings(tk)
			for _, kk := range tk {
				line := lineOf(data, path(k), kk)
				p := findParam(rp, kk)
				if p == nil {
					return fmt.Errorf("%s:%d: %s: unknown key (keys: %s)", name, line, shown(k, kk), paramKeys(rp))
				}
				if err := setParam(p, t[kk]); err != nil {
					return fmt.Errorf("%s:%d: %s: %v", name, line, shown(k, kk), err)
				}
				next.sources[k+"."+kk] = fmt.Sprintf("%s:%d", name, line)
			}
			continue
		}
		line := lineOf(data, path(), k)
		p := findParam(ps[""], k)
		if p == nil {
			return fmt.Errorf("%s:%d: %s: unknown key (a rule is a table, e.g. [%s]; rules: %s)", name, line, shown(k), path("port_scan"), strings.Join(next.names(), ", "))
		}
		if err := setParam(p, v); err != nil {
			return fmt.Errorf("%s:%d: %s: %v", name, line, shown(k), err)
		}
		next.sources[k] = fmt.Sprintf("%s:%d", name, line)
	}
	*rs = *next
	return nil
}

func (rs *RuleSet) names() []string {
	n := make([]string, len(rs.Rules))
	for i, r := range rs.Rules {
		n[i] = r.Name
	}
	return n
}

func findParam(ps []param, key string) *param {
	for i := range ps {
		if ps[i].key == key {
			return &ps[i]
		}
	}
	return nil
}

func paramKeys(ps []param) string {
	k := make([]string, len(ps))
	for i, p := range ps {
		k[i] = p.key
	}
	return strings.Join(k, ", ")
}

// setParam sets p from a decoded TOML value.
func setParam(p *param, v any) error {
	wrong := func(want string) error { return fmt.Errorf("%v: want %s", tomlText(v), want) }
	switch dst := p.ptr.(type) {
	case *bool:
		b, ok := v.(bool)
		if !ok {
			return wrong("true or false")
		}
		*dst = b
	case *int:
		n, ok := v.(int64)
		if !ok {
			return wrong("an integer")
		}
		*dst = int(n)
	case *float64:
		switch n := v.(type) {
		case int64:
			*dst = float64(n)
		case float64:
			*dst = n
		default:
			return wrong("a number")
		}
	case *string:
		s, ok := v.(string)
		if !ok {
			return wrong("a string")
		}
		*dst = s
	case *Severity:
		s, ok := v.(string)
		if !ok {
			return wrong(`"info", "warning" or "critical"`)
		}
		*dst = Severity(s)
	case *time.Duration:
		s, ok := v.(string)
		if !ok {
			return wrong(`a duration such as "30s" or "5m"`)
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return wrong(`a duration such as "30s" or "5m"`)
		}
		*dst = d
	case *[]string:
		l, ok := v.([]any)
		if !ok {
			return wrong("a list of strings")
		}
		out := make([]string, 0, len(l))
		for _, e := range l {
			s, ok := e.(string)
			if !ok {
				return wrong("a list of strings")
			}
			out = append(out, s)
		}
		*dst = out
	case *[]int:
		l, ok := v.([]any)
		if !ok {
			return wrong("a list of integers")
		}
		out := make([]int, 0, len(l))
		for _, e := range l {
			n, ok := e.(int64)
			if !ok {
				return wrong("a list of integers")
			}
			out = append(out, int(n))
		}
		*dst = out
	case *[]netip.Prefix:
		l, ok := v.([]any)
		if !ok {
			return wrong(`a list of addresses or prefixes, e.g. ["198.18.0.5", "10.0.0.0/8"]`)
		}
		out := make([]netip.Prefix, 0, len(l))
		for _, e := range l {
			s, ok := e.(string)
			if !ok {
				return wrong(`a list of addresses or prefixes, e.g. ["198.18.0.5", "10.0.0.0/8"]`)
			}
			pf, err := parsePrefix(s)
			if err != nil {
				return fmt.Errorf("%q: not an address or a CIDR prefix", s)
			}
			out = append(out, pf)
		}
		*dst = out
	default:
		return fmt.Errorf("internal: unsupported setting type %T", p.ptr)
	}
	if p.check != nil {
		if msg := p.check(); msg != "" {
			return fmt.Errorf("%v: %s", tomlText(v), msg)
		}
	}
	return nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// tomlText is a decoded value for a message, on one line: strings quoted, lists element
// by element, tables named.
func tomlText(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	case []any:
		s := make([]string, len(x))
		for i, e := range x {
			s[i] = tomlText(e)
		}
		return "[" + strings.Join(s, ", ") + "]"
	}
	return fmt.Sprint(v)
}

// oneLine escapes the line breaks of a parser's message (it quotes the input it did not
// expect, a newline in an escape sequence too), so that an error stays one line.
func oneLine(s string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
}

// bareKey says whether k is a bare TOML key (letters, digits, "_" and "-"), which a message
// may show without quotes.
func bareKey(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// lineOf returns the line (from 1) of key in table (dotted, "" for the top level) of a TOML
// text, or of the table's header when key names a sub-table (or the first header of a
// table in it); 0 when not found.
func lineOf(data []byte, table, key string) int {
	header := regexp.MustCompile(`^\s*\[\s*([^\]]+?)\s*\]`)
	keyRe := regexp.MustCompile(`^\s*("` + regexp.QuoteMeta(key) + `"|` + regexp.QuoteMeta(key) + `)\s*=`)
	want := key
	if table != "" {
		want = table + "." + key
	}
	cur := ""
	for i, l := range strings.Split(string(data), "\n") {
		if m := header.FindStringSubmatch(l); m != nil {
			cur = strings.ReplaceAll(m[1], " ", "")
			if cur == want || strings.HasPrefix(cur, want+".") { // [a.b] defines a as well
				return i + 1
			}
			continue
		}
		if cur == table && keyRe.MatchString(l) {
			return i + 1
		}
	}
	return 0
}

// clone returns a deep copy of rs: new rules with their own detectors (their settings
// copied, their state fresh).
func (rs *RuleSet) clone() *RuleSet {
	n := &RuleSet{WarmUp: rs.WarmUp, sources: make(map[string]string, len(rs.sources))}
	for k, v := range rs.sources {
		n.sources[k] = v
	}
	for _, r := range rs.Rules {
		c := *r
		c.AllowSrc = slices.Clone(r.AllowSrc)
		c.AllowDst = slices.Clone(r.AllowDst)
		if r.Detector != nil {
			c.Detector = r.Detector.clone()
		}
		n.Rules = append(n.Rules, &c)
	}
	return n
}

// NoBaselines turns off the rules that need history, saying why (monitor.Baselines is nil
// when there is no history database). The connection-surge rule keeps its other checks.
func (rs *RuleSet) NoBaselines() {
	if r := rs.Rule(RuleBaseline); r != nil && r.Enabled {
		r.Off = "needs history (--db): no baselines"
	}
}
