package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"
)

// RulesConfig is what `wiretop rules` is asked for.
type RulesConfig struct {
	ConfigPath string // --config
	RulesPath  string // --rules
	JSON       bool   // --json
}

// parseRulesArgs reads the flags of `wiretop rules`.
func parseRulesArgs(args []string, stderr io.Writer) (RulesConfig, error) {
	var r RulesConfig
	fs := pflag.NewFlagSet("wiretop rules", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&r.ConfigPath, "config", "", "preferences file whose [rules] section applies (default ~/.config/wiretop/config.toml)")
	fs.StringVar(&r.RulesPath, "rules", "", "rules file, TOML, applied after the config file")
	fs.BoolVar(&r.JSON, "json", false, "print the settings as JSON")
	if err := fs.Parse(args); err != nil {
		return r, err
	}
	if fs.NArg() > 0 {
		return r, fmt.Errorf("rules: unexpected argument %q", fs.Arg(0))
	}
	return r, nil
}

// runRules prints the detection rules in force and where each value came from.
func runRules(ctx context.Context, cfg Config, stdout io.Writer) error {
	if cfg.Rules.ConfigPath != "" {
		cfg.ConfigPath = cfg.Rules.ConfigPath
	}
	if cfg.Rules.RulesPath != "" {
		cfg.RulesPath = cfg.Rules.RulesPath
	}
	rs, notes, err := loadRules(cfg)
	if err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintln(stdout, "#", n)
	}
	rs.NoBaselines() // `wiretop rules` opens no history
	settings := rs.Settings()
	if cfg.Rules.JSON {
		type ruleJSON struct {
			Name     string `json:"name"`
			Doc      string `json:"doc"`
			Off      string `json:"off,omitempty"`
			Settings []any  `json:"settings"`
		}
		var out []ruleJSON
		top := []any{}
		for _, s := range settings {
			if s.Rule == "" {
				top = append(top, s)
			}
		}
		for _, r := range rs.Rules {
			rj := ruleJSON{Name: r.Name, Doc: r.Doc, Off: r.Off}
			for _, s := range settings {
				if s.Rule == r.Name {
					rj.Settings = append(rj.Settings, s)
				}
			}
			out = append(out, rj)
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"settings": top, "rules": out})
	}
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tKEY\tVALUE\tSOURCE")
	for _, s := range settings {
		rule := s.Rule
		if rule == "" {
			rule = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", rule, s.Key, valueText(s.Value), s.Source)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rs.Rules {
		if r.Off != "" {
			fmt.Fprintf(stdout, "%s: off: %s\n", r.Name, r.Off)
		}
	}
	return nil
}

func valueText(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("%q", x)
	case []string:
		q := make([]string, len(x))
		for i, s := range x {
			q[i] = fmt.Sprintf("%q", s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	return fmt.Sprint(v)
}
