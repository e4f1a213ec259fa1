package ui

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wiretop/wiretop/monitor"
	"github.com/wiretop/wiretop/sampler"
)

func newTestProcesses() (*monitor.State, *processesPane, *Prefs) {
	st := monitor.New(monitor.Options{})
	pr := DefaultPrefs()
	return st, newProcessesPane(st, NewStyles(DefaultTheme()), &pr, false), &pr
}

// pids returns the PIDs of the table rows of a processes view, in order.
func pids(lines []string) []int {
	var out []int
	for _, l := range lines[1:] { // below the header
		f := strings.Fields(strings.TrimPrefix(l, "›"))
		if len(f) == 0 {
			continue
		}
		if pid, err := strconv.Atoi(f[0]); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

func TestProcessesTable(t *testing.T) {
	st, p, _ := newTestProcesses()
	p.SetSize(118, 10)
	feed(st, 0, 40, p)
	lines := p.View(118, 10)
	checkBlock(t, lines, 118, 10)
	for _, col := range []string{"PID", "USER", "COMMAND", "SENT/s▼", "RECV/s▼", "SENT", "RECV"} {
		if !strings.Contains(lines[0], col) {
			t.Errorf("header %q lacks %q", lines[0], col)
		}
	}
	if got, want := fmt.Sprint(pids(lines)), "[4242 812 1500]"; got != want {
		t.Errorf("rows by total rate: %s, want %s", got, want)
	}
	// curl at sample 40 received 79 x 90 kB in one second, sent 120 B; 137 MiB over the session
	want := "›    4242 alice     curl -sO https://mirror.example.org/debian-12.iso"
	if !strings.HasPrefix(lines[1], want) {
		t.Errorf("first row %q, want it to start with %q", lines[1], want)
	}
	for _, cell := range []string{"120 B/s", "6.78 MiB/s", "4.69 KiB", "137 MiB"} {
		if !strings.Contains(lines[1], cell) {
			t.Errorf("curl row %q lacks %q", lines[1], cell)
		}
	}
	// a process that rewrote its title shows it as is
	if l := line(lines, "812"); !strings.Contains(l, "www-data  nginx: worker process") {
		t.Errorf("nginx row %q", l)
	}
	// the unattributed row comes last, with its rate (3000 B/s sent) and share of the bytes
	un := line(lines, "(unattributed)")
	if un == "" || !strings.Contains(lines[4], "(unattributed) 0.1% of bytes") {
		t.Fatalf("unattributed row missing or misplaced:\n%s", strings.Join(lines, "\n"))
	}
	if !strings.Contains(un, "2.93 KiB/s") || !strings.Contains(un, "117 KiB") {
		t.Errorf("unattributed row %q", un)
	}
	if got := p.Title(); got != "Processes · 3 · by total/s" {
		t.Errorf("title %q", got)
	}
}

func TestProcessesSortKeys(t *testing.T) {
	st, p, _ := newTestProcesses()
	p.SetSize(118, 10)
	feed(st, 0, 40, p)
	for _, tc := range []struct {
		key, want, header, title string
	}{
		{"s", "[812 1500 4242]", "SENT/s▼", "by sent/s"},     // nginx sends most
		{"r", "[4242 812 1500]", "RECV/s▼", "by received/s"}, // curl downloads
		{"m", "[4242 812 1500]", "RECV▼", "by received (session)"},
		{"s", "[812 1500 4242]", "SENT▼", "by sent (session)"},
		{"t", "[4242 812 1500]", "SENT▼", "by total (session)"},
		{"m", "[4242 812 1500]", "SENT/s▼", "by total/s"},
	} {
		p.Update(keyMsg(tc.key))
		lines := p.View(118, 10)
		if got := fmt.Sprint(pids(lines)); got != tc.want {
			t.Errorf("after %q: %s, want %s", tc.key, got, tc.want)
		}
		if !strings.Contains(lines[0], tc.header) {
			t.Errorf("after %q: header %q lacks %q", tc.key, lines[0], tc.header)
		}
		if !strings.Contains(p.Title(), tc.title) {
			t.Errorf("after %q: title %q lacks %q", tc.key, p.Title(), tc.title)
		}
	}
}

func TestProcessesNarrowDropsColumns(t *testing.T) {
	st, p, _ := newTestProcesses()
	feed(st, 0, 5, p)
	for _, tc := range []struct {
		w            int
		user, totals bool
	}{{118, true, true}, {78, false, true}, {58, false, false}} {
		h := p.View(tc.w, 8)[0]
		if strings.Contains(h, "USER") != tc.user || (strings.Count(h, "RECV") == 2) != tc.totals {
			t.Errorf("width %d: header %q", tc.w, h)
		}
		checkBlock(t, p.View(tc.w, 8), tc.w, 8)
	}
}

// manySample is sample i (0: the baseline) of n processes, each with one socket; process k
// moves (k+1) kB a second each way, so the table's order is known.
func manySample(i, n int) *sampler.Sample {
	s := &sampler.Sample{Time: t0.Add(time.Duration(i) * time.Second), Baseline: i == 0, Procs: make(map[int]*sampler.Proc, n)}
	if i > 0 {
		s.Elapsed = time.Second
	}
	s.Sockets = make([]sampler.Socket, 0, n)
	for k := 0; k < n; k++ {
		pid := 10_000 + k
		s.Procs[pid] = &sampler.Proc{PID: pid, Comm: "worker", Cmdline: "worker --id " + strconv.Itoa(k), UID: 1000, User: "alice"}
		b := uint64(i * (k + 1) * 1000)
		s.Sockets = append(s.Sockets, sampler.Socket{
			Proto: sampler.ProtoTCP, State: sampler.StateEstablished,
			Local:  netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), uint16(1024+k%60000)),
			Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(k >> 8), byte(k)}), 443),
			Cookie: uint64(k + 1), HasInfo: true, PID: pid, BytesAcked: b, BytesReceived: b,
		})
	}
	return s
}

func TestProcessesScrollManyRows(t *testing.T) {
	const n = 10_000
	st, p, _ := newTestProcesses()
	p.SetSize(118, 12) // 10 rows in sight
	for i := 0; i <= 1; i++ {
		s := manySample(i, n)
		st.Apply(s)
		p.Update(SampleMsg{s})
	}
	lines := p.View(118, 12)
	checkBlock(t, lines, 118, 12)
	if got := pids(lines); len(got) != 10 || got[0] != 10_000+n-1 || got[9] != 10_000+n-10 {
		t.Fatalf("top rows: %v", got)
	}
	if !strings.Contains(p.Title(), "· 1-10") {
		t.Errorf("title %q", p.Title())
	}
	press := func(keys ...string) {
		for _, k := range keys {
			p.Update(keyMsg(k))
		}
	}
	press("j", "down", "j")
	if got := pids(p.View(118, 12)); !strings.HasPrefix(line(p.View(118, 12), "›"), "›") || got[0] != 10_000+n-1 {
		t.Fatalf("after 3 down: %v", got)
	}
	if sel := line(p.View(118, 12), "›"); !strings.Contains(sel, strconv.Itoa(10_000+n-4)) {
		t.Errorf("selected row %q, want pid %d", sel, 10_000+n-4)
	}
	press("k", "up")
	if sel := line(p.View(118, 12), "›"); !strings.Contains(sel, strconv.Itoa(10_000+n-2)) {
		t.Errorf("selected row %q after 2 up", sel)
	}
	press("G")
	lines = p.View(118, 12)
	if got := pids(lines); len(got) != 10 || got[9] != 10_000 {
		t.Errorf("bottom rows: %v", got)
	}
	if !strings.Contains(p.Title(), "· 9991-10000") {
		t.Errorf("title at the bottom %q", p.Title())
	}
	if !strings.Contains(lines[11], "(unattributed)") {
		t.Errorf("last line %q is not the unattributed row", lines[11])
	}
	press("g")
	if got := pids(p.View(118, 12)); got[0] != 10_000+n-1 {
		t.Errorf("back at the top: %v", got)
	}
}

// The cursor stays on the process it was moved to when a new sample reorders the table.
func TestProcessesCursorFollowsProcess(t *testing.T) {
	st, p, _ := newTestProcesses()
	p.SetSize(118, 10)
	feed(st, 0, 40, p)
	p.Update(keyMsg("j")) // nginx, second by total rate
	feed(st, 41, 41, p)
	p.Update(keyMsg("s")) // a new order starts at the top
	if sel := line(p.View(118, 10), "›"); !strings.Contains(sel, "812") {
		t.Fatalf("selected %q", sel)
	}
	p.Update(keyMsg("j")) // postgres, second by sent
	if sel := line(p.View(118, 10), "›"); !strings.Contains(sel, "1500") {
		t.Fatalf("selected %q", sel)
	}
	p.Update(keyMsg("r")) // by received: curl, nginx, postgres
	p.Update(keyMsg("j"))
	p.Update(keyMsg("j"))
	feed(st, 42, 42, p)
	if sel := line(p.View(118, 10), "›"); !strings.Contains(sel, "1500") {
		t.Errorf("selection did not follow postgres: %q", sel)
	}
}

func TestProcessesActiveOnlyAndEmpty(t *testing.T) {
	st, p, _ := newTestProcesses()
	if out := strings.Join(p.View(80, 6), "\n"); !strings.Contains(out, "waiting for the first sample") {
		t.Errorf("before any sample:\n%s", out)
	}
	feed(st, 0, 0, p) // the baseline counts nothing
	lines := p.View(80, 6)
	if out := strings.Join(lines, "\n"); !strings.Contains(out, "(unattributed)") {
		t.Errorf("baseline view:\n%s", out)
	}
	p.Update(keyMsg("a"))
	if out := strings.Join(p.View(80, 6), "\n"); !strings.Contains(out, "no process has moved bytes yet") {
		t.Errorf("active only, nothing active:\n%s", out)
	}
	if !strings.Contains(p.Title(), "active only") {
		t.Errorf("title %q", p.Title())
	}
}

// m orders by the session's bytes (like nethogs' cumulative mode); in a narrow pane it keeps
// the totals rather than the rates. l switches between command lines and program names.
func TestProcessesModeAndCommandLine(t *testing.T) {
	st, p, pr := newTestProcesses()
	p.SetSize(58, 10)
	feed(st, 0, 40, p)
	h := p.View(58, 10)[0]
	if !strings.Contains(h, "SENT/s") || strings.Contains(h, "SENT ") {
		t.Errorf("narrow, rate mode: header %q", h)
	}
	p.Update(keyMsg("m"))
	if !pr.Cumulative {
		t.Fatal("m did not change the preference")
	}
	lines := p.View(58, 10)
	if strings.Contains(lines[0], "/s") || !strings.Contains(lines[0], "SENT▼") {
		t.Errorf("narrow, cumulative: header %q", lines[0])
	}
	if l := line(lines, "4242"); !strings.Contains(l, "137 MiB") {
		t.Errorf("curl's total is not shown: %q", l)
	}
	p.SetSize(118, 10)
	lines = p.View(118, 10)
	if l := line(lines, "4242"); !strings.Contains(l, "curl -sO https://mirror.example.org/debian-12.iso") || !strings.Contains(lines[0], "COMMAND") {
		t.Errorf("command line: %q", l)
	}
	p.Update(keyMsg("l"))
	lines = p.View(118, 10)
	if l := line(lines, "812"); !strings.Contains(l, "nginx ") || strings.Contains(l, "worker") || !strings.Contains(lines[0], "PROGRAM") {
		t.Errorf("program name: %q / %q", lines[0], l)
	}
	if !pr.ProgramOnly {
		t.Error("l did not change the preference")
	}
}

// The filter keeps the rows whose pid, user or command contain the text, as it is typed.
func TestProcessesFilter(t *testing.T) {
	st, p, _ := newTestProcesses()
	p.SetSize(118, 10)
	feed(st, 0, 40, p)
	p.Update(keyMsg("/"))
	if !p.Editing() {
		t.Fatal("/ did not open the filter")
	}
	for _, tc := range []struct{ key, want string }{
		{"p", "[4242 812 1500]"}, // https, process, postgres
		{"o", "[1500]"},          // "po"
		{"backspace", "[4242 812 1500]"},
		{"backspace", "[4242 812 1500]"}, // empty
		{"8", "[812]"},                   // the pid 812
		{"backspace", "[4242 812 1500]"},
		{"a", "[4242 812 1500]"}, // alice, www-data, app
		{"l", "[4242]"},          // "al": alice
	} {
		p.Update(keyMsg(tc.key))
		lines := p.View(118, 10)
		if got := fmt.Sprint(pids(lines)); got != tc.want {
			t.Errorf("after %q (filter %q): %s, want %s", tc.key, p.filter.Value(), got, tc.want)
		}
		if l := lines[len(lines)-1]; !strings.HasPrefix(l, "/"+p.filter.Value()) {
			t.Errorf("last line %q is not the input", l)
		}
	}
	p.Update(keyMsg("enter"))
	if p.Editing() || !strings.Contains(p.Title(), `filter "al"`) {
		t.Errorf("enter: editing %v, title %q", p.Editing(), p.Title())
	}
	// a new sample keeps the filter
	feed(st, 41, 41, p)
	if got := fmt.Sprint(pids(p.View(118, 10))); got != "[4242]" {
		t.Errorf("after a sample: %s", got)
	}
	// the unattributed share is of every process's bytes, filter or not
	if un := line(p.View(118, 10), "(unattributed)"); !strings.Contains(un, "0.1% of bytes") {
		t.Errorf("unattributed row %q", un)
	}
}

// The wheel scrolls the table and a click selects the row under it.
func TestProcessesMouse(t *testing.T) {
	const n = 100
	st, p, _ := newTestProcesses()
	p.SetSize(118, 12) // 10 rows in sight
	for i := 0; i <= 1; i++ {
		s := manySample(i, n)
		st.Apply(s)
		p.Update(SampleMsg{s})
	}
	p.Update(paneMouseMsg{wheel: 1})
	p.Update(paneMouseMsg{wheel: 1})
	if got := pids(p.View(118, 12)); got[0] != 10_000+n-1-2*wheelRows {
		t.Errorf("after two notches, the first row is %d", got[0])
	}
	p.Update(paneMouseMsg{click: true, y: 3}) // the third row in sight
	if sel := line(p.View(118, 12), "›"); !strings.Contains(sel, strconv.Itoa(10_000+n-1-2*wheelRows-2)) {
		t.Errorf("clicked row: %q", sel)
	}
	p.Update(paneMouseMsg{click: true, y: 0}) // the header: nothing
	p.Update(paneMouseMsg{wheel: -1})
	if got := pids(p.View(118, 12)); got[0] != 10_000+n-1-wheelRows {
		t.Errorf("after a notch up, the first row is %d", got[0])
	}
}

// TestProcessesContainers: with a process in a container the table has a CONTAINER column
// (none without: TestProcessesTable), c sums each container's processes into one row, the
// processes in none into "(host)", and the filter matches container names.
func TestProcessesContainers(t *testing.T) {
	st, p, _ := newTestProcesses()
	p.SetSize(140, 10)
	for i := 0; i <= 40; i++ {
		s := fixtureSample(i)
		for pid, pr := range s.Procs {
			if pid != 4242 {
				c := *pr
				c.Container = "docker:4f0c3d9e8b7a"
				s.Procs[pid] = &c
			}
		}
		st.Apply(s)
		p.Update(SampleMsg{s})
	}
	lines := p.View(140, 10)
	checkBlock(t, lines, 140, 10)
	if !strings.Contains(lines[0], "CONTAINER") {
		t.Errorf("header %q lacks CONTAINER", lines[0])
	}
	if l := line(lines, "812"); !strings.Contains(l, "docker:4f0c3d9e8b7a") {
		t.Errorf("nginx row %q lacks its container", l)
	}
	p.Update(keyMsg("c"))
	lines = p.View(140, 10)
	out := strings.Join(lines, "\n")
	if !strings.Contains(p.Title(), "by container") || strings.Contains(lines[0], "CONTAINER") {
		t.Errorf("grouped: title %q, header %q", p.Title(), lines[0])
	}
	if !strings.Contains(out, "docker:4f0c3d9e8b7a 2 processes") || !strings.Contains(out, "(host) 1 processes") {
		t.Errorf("grouped rows:\n%s", out)
	}
	if got := pids(lines); len(got) != 0 {
		t.Errorf("grouped rows carry pids %v", got)
	}
	p.Update(keyMsg("c"))
	p.Update(keyMsg("/"))
	for _, r := range "docker:4f0c" {
		p.Update(keyMsg(string(r)))
	}
	p.Update(keyMsg("enter"))
	if got, want := fmt.Sprint(pids(p.View(140, 10))), "[812 1500]"; got != want {
		t.Errorf("filter by container: rows %s, want %s", got, want)
	}
}
