package ui

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/wiretop/wiretop/history"
)

// fakeHistory answers the pane's queries from rows and records what was asked.
type fakeHistory struct {
	rows  []history.Row
	err   error
	asked []history.Query
}

func (f *fakeHistory) Traffic(ctx context.Context, q history.Query) ([]history.Row, error) {
	f.asked = append(f.asked, q)
	var out []history.Row
	for _, r := range f.rows {
		if r.Cat == q.Cat && r.Kind == q.Kind && (q.A == "" || r.A == q.A) {
			out = append(out, r)
		}
	}
	return out, f.err
}

func (f *fakeHistory) Interfaces(ctx context.Context) ([]string, error) {
	return []string{"eth0", "lo", "wlan0"}, f.err
}

// run feeds msg to the pane and the messages of its commands back, as the program would.
func runPane(p *historyPane, msg tea.Msg) {
	cmd := p.Update(msg)
	for cmd != nil {
		m := cmd()
		cmd = p.Update(m)
	}
}

func TestHistoryPane(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 12, d, 0, 0, 0, 0, time.Local) }
	src := &fakeHistory{rows: []history.Row{
		{Kind: history.Day, Start: day(4), Cat: history.CatIface, A: "eth0", RxBytes: 3 << 30, TxBytes: 1 << 30},
		{Kind: history.Day, Start: day(5), Cat: history.CatIface, A: "eth0", RxBytes: 1 << 30, TxBytes: 512 << 20},
		{Kind: history.Day, Start: day(5), Cat: history.CatIface, A: "wlan0", RxBytes: 7 << 20},
		{Kind: history.Day, Start: day(5), Cat: history.CatProc, A: "nginx", B: "/usr/sbin/nginx", C: "www-data", RxBytes: 10 << 20, TxBytes: 900 << 20},
		{Kind: history.Day, Start: day(5), Cat: history.CatProc, A: "sshd", C: "root", RxBytes: 1 << 20},
	}}
	now := func() time.Time { return day(5).Add(15 * time.Hour) }
	p := newHistoryPane(src, NewStyles(DefaultTheme()), &Prefs{}, "all", now)
	if v := strings.Join(p.View(100, 10), "\n"); !strings.Contains(v, "reading the history") {
		t.Errorf("before the first sample: %q", v)
	}
	runPane(p, SampleMsg{})
	v := strings.Join(p.View(100, 10), "\n")
	for _, want := range []string{"2026-12-04", "2026-12-05", "3.00 GiB", "512 MiB", "█"} {
		if !strings.Contains(v, want) {
			t.Errorf("interfaces view lacks %q:\n%s", want, v)
		}
	}
	if p.Title() != "History · eth0 · daily" {
		t.Errorf("title %q", p.Title())
	}
	runPane(p, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("i")}) // lo: nothing
	runPane(p, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("i")}) // wlan0
	if v := strings.Join(p.View(100, 10), "\n"); !strings.Contains(v, "7.00 MiB") || strings.Contains(v, "3.00 GiB") {
		t.Errorf("wlan0 view:\n%s", v)
	}
	runPane(p, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("v")}) // processes, today
	q := src.asked[len(src.asked)-1]
	if q.Cat != history.CatProc || !q.Begin.Equal(day(5)) {
		t.Errorf("processes query %+v, want today's", q)
	}
	lines := p.View(100, 10)
	if !strings.Contains(lines[1], "nginx (www-data)") || !strings.Contains(lines[2], "sshd (root)") {
		t.Errorf("processes, busiest first:\n%s", strings.Join(lines, "\n"))
	}
	if p.Title() != "History · processes · today" {
		t.Errorf("title %q", p.Title())
	}
	runPane(p, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("t")}) // this month: nothing
	if v := strings.Join(p.View(100, 10), "\n"); !strings.Contains(v, "nothing recorded") {
		t.Errorf("an empty month:\n%s", v)
	}
	src.err = errors.New("history /x.db: the database is locked by another process")
	runPane(p, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("t")})
	if v := strings.Join(p.View(100, 10), "\n"); !strings.Contains(v, "locked by another process") {
		t.Errorf("an error:\n%s", v)
	}
}
