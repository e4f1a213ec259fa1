package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
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

// TestSystemdUnit checks deploy/systemd/wiretop.service with systemd-analyze: verify passes
// (on a copy whose ExecStart names the test's binary), the offline security exposure is at
// most 4.0, and its capabilities are exactly those of README's setcap line.
func TestSystemdUnit(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed: the unit cannot be checked on this machine")
	}
	unit, err := os.ReadFile("deploy/systemd/wiretop.service")
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "wiretop.service")
	if err := os.WriteFile(copyPath, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/wiretop", wiretopBin)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("systemd-analyze", "verify", copyPath).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command("systemd-analyze", "security", "--offline=yes", copyPath).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security: %v: no exposure level in\n%s", err, out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	if score > 4.0 {
		t.Errorf("exposure %.1f, want at most 4.0\n%s", score, out)
	}
	t.Logf("systemd-analyze security --offline=yes: exposure %.1f", score)

	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	setcap := regexp.MustCompile(`setcap ([a-z_,]+)=eip`).FindSubmatch(readme)
	if setcap == nil {
		t.Fatal("README has no setcap line")
	}
	want := strings.Split(strings.ToUpper(string(setcap[1])), ",")
	slices.Sort(want)
	for _, key := range []string{"CapabilityBoundingSet", "AmbientCapabilities"} {
		m := regexp.MustCompile(`(?m)^` + key + `=(.*)$`).FindSubmatch(unit)
		if m == nil {
			t.Errorf("the unit sets no %s", key)
			continue
		}
		got := strings.Fields(string(m[1]))
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s=%v, want README's setcap list %v", key, got, want)
		}
	}
}
