package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrometheusRules checks the shipped recording and alerting rules with Debian's promtool
// and runs their unit tests: each alert fires on a series built to trip it and stays silent
// on one built not to.
func TestPrometheusRules(t *testing.T) {
	requireTool(t, "promtool")
	rules, _ := filepath.Glob("deploy/prometheus/*.yml")
	tests, _ := filepath.Glob("deploy/prometheus/tests/*.yml")
	if len(rules) < 2 || len(tests) < 2 {
		t.Fatalf("rules %v, tests %v: files missing", rules, tests)
	}
	out, err := exec.Command("promtool", append([]string{"check", "rules"}, rules...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	cmd := exec.Command("promtool", append([]string{"test", "rules"}, relTo(t, "deploy/prometheus", tests)...)...)
	cmd.Dir = "deploy/prometheus"
	out, err = cmd.CombinedOutput()
	if err != nil || strings.Count(string(out), "SUCCESS") != len(tests) {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

func relTo(t *testing.T, base string, paths []string) []string {
	t.Helper()
	out := make([]string, len(paths))
	for i, p := range paths {
		r, err := filepath.Rel(base, p)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = r
	}
	return out
}
