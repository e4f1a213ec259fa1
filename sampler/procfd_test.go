package sampler

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeProc describes one process of a fixture proc tree.
type fakeProc struct {
	pid     int
	comm    string
	cmdline string // as the kernel shows it, with NULs
	uid     uint32
	start   uint64            // starttime, field 22 of stat
	fds     map[string]string // fd name -> link target, such as "socket:[123]"
}

// writeProc creates root/PID with stat, comm, cmdline, status and an fd directory of
// symlinks, replacing what was there.
func writeProc(t testing.TB, root string, p fakeProc) {
	t.Helper()
	dir := filepath.Join(root, strconv.Itoa(p.pid))
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "fd"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Fields 3..21 are filler; field 22 is starttime.
	stat := fmt.Sprintf("%d (%s) S 1 %d %d 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 %d 1000 100 18446744073709551615\n",
		p.pid, p.comm, p.pid, p.pid, p.start)
	status := fmt.Sprintf("Name:\t%s\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t%d\nPid:\t%d\nUid:\t%d\t%d\t%d\t%d\nGid:\t0\t0\t0\t0\n",
		p.comm, p.pid, p.pid, p.uid, p.uid+1, p.uid+2, p.uid+3)
	for name, text := range map[string]string{"stat": stat, "comm": p.comm + "\n", "cmdline": p.cmdline, "status": status} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for fd, target := range p.fds {
		setFD(t, root, p.pid, fd, target)
	}
}

// setFD makes root/PID/fd/NAME a symlink to target, replacing an existing one.
func setFD(t testing.TB, root string, pid int, name, target string) {
	t.Helper()
	path := filepath.Join(root, strconv.Itoa(pid), "fd", name)
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

// removeAll removes a path of a fixture tree.
func removeAll(t testing.TB, path ...string) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(path...)); err != nil {
		t.Fatal(err)
	}
}

// sock is a socket of the table with only an inode.
func sock(inode uint64) Socket { return Socket{Proto: ProtoTCP, State: StateEstablished, Inode: inode} }

// socks makes a socket table of the given inodes.
func socks(inodes ...uint64) []Socket {
	s := make([]Socket, len(inodes))
	for i, ino := range inodes {
		s[i] = sock(ino)
	}
	return s
}

// pidsOf returns the PID of every socket.
func pidsOf(s []Socket) []int {
	out := make([]int, len(s))
	for i := range s {
		out[i] = s[i].PID
	}
	return out
}

// fakeClock is a settable time source for the negative cache and the owner check.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// newTestResolver returns a resolver over root with a fake clock.
func newTestResolver(root string) (*procResolver, *fakeClock) {
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	r := newProcResolver(root)
	r.now = clock.now
	r.fdCount = fixtureFDCount
	return r, clock
}

// fixtureFDCount gives fixture trees what Linux 6.2 and later give /proc/PID/fd: its size
// is the number of fds.
func fixtureFDCount(fdDir string) (int, bool) {
	entries, err := os.ReadDir(fdDir)
	return len(entries), err == nil
}

// checkStats fails the test when the resolver's walk and readlink counts differ.
func checkStats(t *testing.T, r *procResolver, wantWalks, wantReadlinks int) {
	t.Helper()
	walks, readlinks := r.Stats()
	if walks != wantWalks || readlinks != wantReadlinks {
		t.Errorf("Stats() = %d walks, %d readlinks; want %d, %d", walks, readlinks, wantWalks, wantReadlinks)
	}
}

// basicTree writes pids 100 (root, two sockets, other fds), 200 (an unknown uid, a name
// with spaces and parentheses) and 300 (no sockets).
func basicTree(t *testing.T) string {
	root := t.TempDir()
	writeProc(t, root, fakeProc{pid: 100, comm: "nginx", cmdline: "nginx: master process\x00-g\x00daemon off;\x00", uid: 0, start: 500,
		fds: map[string]string{
			"0": "/dev/null", "1": "pipe:[555]", "2": "anon_inode:[eventpoll]",
			"3": "socket:[1001]", "4": "socket:[1002]", "5": "socket:[3001]" /* a Unix socket */, "6": "socket:[bad]",
		}})
	writeProc(t, root, fakeProc{pid: 200, comm: "my (proc) x", cmdline: "\x00\x00", uid: 4242424, start: 700,
		fds: map[string]string{"0": "/dev/null", "7": "socket:[2001]"}})
	writeProc(t, root, fakeProc{pid: 300, comm: "sleep", cmdline: "sleep\x00100\x00", uid: 0, start: 900,
		fds: map[string]string{"0": "/dev/null", "1": "/dev/null"}})
	// Not processes.
	for _, dir := range []string{"net", "sys", "self"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestProcResolverResolve(t *testing.T) {
	root := basicTree(t)
	r, _ := newTestResolver(root)
	if r.AllProcesses() {
		t.Errorf("AllProcesses() = true before any walk, want false")
	}
	table := socks(1001, 0, 2001, 1002, 9999, 3001)
	table[1].PID = 77 // not resolvable: left alone
	procs := map[int]*Proc{}
	r.Resolve(table, procs)

	if diff := cmp.Diff([]int{100, 77, 200, 100, 0, 100}, pidsOf(table)); diff != "" {
		t.Errorf("PIDs mismatch (-want +got):\n%s", diff)
	}
	wantProcs := map[int]*Proc{
		100: {PID: 100, Comm: "nginx", Cmdline: "nginx: master process -g daemon off;", UID: 0, User: "root"},
		200: {PID: 200, Comm: "my (proc) x", Cmdline: "", UID: 4242424, User: "4242424"},
	}
	if diff := cmp.Diff(wantProcs, procs); diff != "" {
		t.Errorf("procs mismatch (-want +got):\n%s", diff)
	}
	if !r.AllProcesses() {
		t.Errorf("AllProcesses() = false, want true: every fd directory is readable")
	}
	// One walk, reading each of the 11 fd links once.
	checkStats(t, r, 1, 11)

	t.Run("nil procs", func(t *testing.T) {
		s := socks(2001)
		r.Resolve(s, nil)
		if s[0].PID != 200 {
			t.Errorf("PID = %d, want 200", s[0].PID)
		}
	})
}

func TestProcResolverCacheHitDoesNotWalk(t *testing.T) {
	r, _ := newTestResolver(basicTree(t))
	r.Resolve(socks(1001, 2001), map[int]*Proc{})
	checkStats(t, r, 1, 11)
	for range 5 {
		s := socks(1001, 2001, 1002, 0)
		r.Resolve(s, map[int]*Proc{})
		if diff := cmp.Diff([]int{100, 200, 100, 0}, pidsOf(s)); diff != "" {
			t.Errorf("PIDs mismatch (-want +got):\n%s", diff)
		}
	}
	checkStats(t, r, 1, 11)
	// An inode that was not in the table at the walk but was cached then (the Unix
	// socket here; in life, a socket that was not connected yet) needs no walk either.
	s := socks(3001)
	r.Resolve(s, nil)
	if s[0].PID != 100 {
		t.Errorf("PID of 3001 = %d, want 100", s[0].PID)
	}
	checkStats(t, r, 1, 11)
}

func TestProcResolverUnknownInodeWalksOnce(t *testing.T) {
	root := basicTree(t)
	r, _ := newTestResolver(root)
	r.Resolve(socks(1001), nil)
	checkStats(t, r, 1, 11)

	// A new socket in pid 200 and a new process: one walk that reads only the 2 new links.
	setFD(t, root, 200, "8", "socket:[2002]")
	writeProc(t, root, fakeProc{pid: 400, comm: "curl", uid: 0, start: 1000, fds: map[string]string{"3": "socket:[4001]"}})
	s := socks(1001, 2002, 4001)
	procs := map[int]*Proc{}
	r.Resolve(s, procs)
	if diff := cmp.Diff([]int{100, 200, 400}, pidsOf(s)); diff != "" {
		t.Errorf("PIDs mismatch (-want +got):\n%s", diff)
	}
	if procs[400] == nil || procs[400].Comm != "curl" {
		t.Errorf("procs[400] = %+v, want curl", procs[400])
	}
	checkStats(t, r, 2, 13)

	// Several unknown inodes still make one walk per Resolve.
	setFD(t, root, 300, "5", "socket:[3005]")
	setFD(t, root, 300, "6", "socket:[3006]")
	s = socks(1001, 2002, 4001, 3005, 3006)
	r.Resolve(s, nil)
	if diff := cmp.Diff([]int{100, 200, 400, 300, 300}, pidsOf(s)); diff != "" {
		t.Errorf("PIDs mismatch (-want +got):\n%s", diff)
	}
	checkStats(t, r, 3, 15)
	r.Resolve(socks(1001, 2002, 4001, 3005, 3006), nil)
	checkStats(t, r, 3, 15)
}

func TestProcResolverNegativeCache(t *testing.T) {
	r, clock := newTestResolver(basicTree(t))
	r.Resolve(socks(1001, 9999), nil)
	// The first walk reads every link once; the full pass that follows when 9999 is
	// not found has no link left to read.
	checkStats(t, r, 1, 11)
	// A socket seen for the first time may be in the table before its fd is installed:
	// its first miss allows one more walk at once, its second makes it negative.
	r.Resolve(socks(1001, 9999), nil)
	checkStats(t, r, 2, 22)
	for range 3 {
		clock.advance(5 * time.Second)
		s := socks(1001, 9999)
		r.Resolve(s, nil)
		if diff := cmp.Diff([]int{100, 0}, pidsOf(s)); diff != "" {
			t.Errorf("PIDs mismatch (-want +got):\n%s", diff)
		}
	}
	checkStats(t, r, 2, 22)
	// After negativeTTL the inode may cause one more walk, then it is negative again.
	// That walk reads no link in its incremental pass (no fd changed) and all 11 in the
	// full pass that looks for 9999 in reused fd numbers.
	clock.advance(negativeTTL)
	r.Resolve(socks(1001, 9999), nil)
	checkStats(t, r, 3, 33)
	r.Resolve(socks(1001, 9999), nil)
	checkStats(t, r, 3, 33)
	// Each walk that misses it again doubles the wait: 60 s now, then 120 s, ... up to
	// maxNegativeTTL.
	clock.advance(negativeTTL)
	r.Resolve(socks(1001, 9999), nil)
	checkStats(t, r, 3, 33)
	clock.advance(negativeTTL)
	r.Resolve(socks(1001, 9999), nil)
	checkStats(t, r, 4, 44)
	walks := 4
	for i := 0; i < 12; i++ { // two hours: at most one walk per maxNegativeTTL once it is reached
		clock.advance(maxNegativeTTL)
		r.Resolve(socks(1001, 9999), nil)
		walks++
		checkStats(t, r, walks, 11*walks)
	}
	if e := r.neg[9999]; e.ttl != maxNegativeTTL {
		t.Errorf("wait after 15 misses: %v, want the cap %v", e.ttl, maxNegativeTTL)
	}
	// The socket closes: the next walk (here for another unknown inode) drops it.
	clock.advance(time.Second)
	r.Resolve(socks(1001, 8888), nil)
	if _, ok := r.neg[9999]; ok {
		t.Errorf("9999 is still in the negative cache after it left the socket table")
	}
}

func TestProcResolverNegativeInodeFoundByAnotherWalk(t *testing.T) {
	root := basicTree(t)
	r, _ := newTestResolver(root)
	r.Resolve(socks(9999), nil) // negative now
	setFD(t, root, 300, "9", "socket:[9999]")
	setFD(t, root, 300, "10", "socket:[3010]")
	// 3010 causes a walk, which finds 9999 too.
	s := socks(3010, 9999)
	r.Resolve(s, nil)
	if diff := cmp.Diff([]int{300, 300}, pidsOf(s)); diff != "" {
		t.Errorf("PIDs mismatch (-want +got):\n%s", diff)
	}
	if _, ok := r.neg[9999]; ok {
		t.Errorf("9999 is still in the negative cache after it was found")
	}
}

func TestProcResolverVanishedPID(t *testing.T) {
	root := basicTree(t)
	r, _ := newTestResolver(root)
	r.Resolve(socks(1001, 2001), nil)

	// pid 200 exits (its socket with it); a new socket makes a walk, which drops it.
	removeAll(t, root, "200")
	setFD(t, root, 300, "5", "socket:[3005]")
	s := socks(1001, 3005)
	procs := map[int]*Proc{}
	r.Resolve(s, procs)
	if diff := cmp.Diff([]int{100, 300}, pidsOf(s)); diff != "" {
		t.Errorf("PIDs mismatch (-want +got):\n%s", diff)
	}
	if _, ok := r.pids[200]; ok {
		t.Errorf("pid 200 is still cached after it vanished")
	}
	if _, ok := r.owners[2001]; ok {
		t.Errorf("inode 2001 of the vanished pid is still cached")
	}
	if !r.AllProcesses() {
		t.Errorf("AllProcesses() = false after a process vanished, want true")
	}

	// A pid directory without fd/ (a process that exits during the walk) is skipped and
	// does not count as unreadable.
	if err := os.MkdirAll(filepath.Join(root, "500"), 0o755); err != nil {
		t.Fatal(err)
	}
	setFD(t, root, 300, "6", "socket:[3006]")
	r.Resolve(socks(3006), nil)
	if _, ok := r.pids[500]; ok {
		t.Errorf("pid 500 without fd/ is cached")
	}
	if !r.AllProcesses() {
		t.Errorf("AllProcesses() = false after a process without fd/, want true")
	}
}

func TestProcResolverSharedSocket(t *testing.T) {
	root := t.TempDir()
	// A forking server: the master and two workers hold the listener 5000.
	for _, pid := range []int{3000, 150, 2000} {
		writeProc(t, root, fakeProc{pid: pid, comm: "srv" + strconv.Itoa(pid), uid: 0, start: uint64(pid),
			fds: map[string]string{"3": "socket:[5000]", "4": "socket:[" + strconv.Itoa(6000+pid) + "]"}})
	}
	r, clock := newTestResolver(root)
	for range 3 { // the map order of the walk must not matter
		r.pids = map[int]*pidFDs{}
		s := socks(5000, 6150, 8000)
		r.Resolve(s, nil)
		if diff := cmp.Diff([]int{150, 150, 2000}, pidsOf(s)); diff != "" {
			t.Errorf("PIDs mismatch (-want +got):\n%s", diff)
		}
	}
	walks, _ := r.Stats()

	// The lowest holder exits (a daemon's parent); its other socket closes with it. At the
	// next owner check the listener is found on the next lowest pid.
	removeAll(t, root, "150")
	s := socks(5000, 8000)
	r.Resolve(s, nil)
	if diff := cmp.Diff([]int{150, 2000}, pidsOf(s)); diff != "" {
		t.Errorf("PIDs before the owner check mismatch (-want +got):\n%s", diff)
	}
	checkStats(t, r, walks, r.readlinks)
	clock.advance(ownerCheckInterval)
	s = socks(5000, 8000)
	procs := map[int]*Proc{}
	r.Resolve(s, procs)
	if diff := cmp.Diff([]int{2000, 2000}, pidsOf(s)); diff != "" {
		t.Errorf("PIDs after the owner check mismatch (-want +got):\n%s", diff)
	}
	if got := procs[2000]; got == nil || got.Comm != "srv2000" {
		t.Errorf("procs[2000] = %+v, want srv2000", got)
	}
	checkStats(t, r, walks+1, r.readlinks)
}

func TestProcResolverFDReuse(t *testing.T) {
	root := basicTree(t)
	r, _ := newTestResolver(root)
	r.Resolve(socks(1001, 1002), nil)
	checkStats(t, r, 1, 11)

	// fd 3 closes and accept(2) returns fd 3 again: 1001 left the table, so the walk
	// reads fd 3 again, and only it.
	setFD(t, root, 100, "3", "socket:[1011]")
	s := socks(1011, 1002)
	r.Resolve(s, nil)
	if diff := cmp.Diff([]int{100, 100}, pidsOf(s)); diff != "" {
		t.Errorf("PIDs mismatch (-want +got):\n%s", diff)
	}
	checkStats(t, r, 2, 12)
	if _, ok := r.owners[1001]; ok {
		t.Errorf("inode 1001 is still cached after its fd was reused")
	}

	// fd 0 pointed to /dev/null and is reused for a socket: the names did not change, so
	// the incremental pass (which reads no link) misses it and the full pass reads the
	// other 10 links of the walk.
	setFD(t, root, 100, "0", "socket:[1020]")
	s = socks(1011, 1002, 1020)
	r.Resolve(s, nil)
	if diff := cmp.Diff([]int{100, 100, 100}, pidsOf(s)); diff != "" {
		t.Errorf("PIDs mismatch (-want +got):\n%s", diff)
	}
	checkStats(t, r, 3, 23)

	// A closed fd is forgotten.
	removeAll(t, root, "100", "fd", "4")
	setFD(t, root, 300, "5", "socket:[3005]")
	s = socks(1002, 3005)
	r.Resolve(s, nil)
	if diff := cmp.Diff([]int{0, 300}, pidsOf(s)); diff != "" {
		t.Errorf("PIDs mismatch (-want +got):\n%s", diff)
	}
}

func TestProcResolverSkipsUnchangedPIDs(t *testing.T) {
	root := basicTree(t)
	r, _ := newTestResolver(root)
	table := socks(1001, 1002, 2001)
	r.Resolve(table, nil)
	if r.listings != 3 {
		t.Errorf("first walk listed %d fd directories, want 3", r.listings)
	}

	// pid 200 opens a socket, pid 400 starts: only their fd directories are listed.
	setFD(t, root, 200, "8", "socket:[2002]")
	writeProc(t, root, fakeProc{pid: 400, comm: "curl", start: 1, fds: map[string]string{"3": "socket:[4001]"}})
	table = socks(1001, 1002, 2001, 2002, 4001)
	r.Resolve(table, nil)
	if diff := cmp.Diff([]int{100, 100, 200, 200, 400}, pidsOf(table)); diff != "" {
		t.Errorf("PIDs mismatch (-want +got):\n%s", diff)
	}
	if r.listings != 5 || r.fullPasses != 0 {
		t.Errorf("second walk: %d listings, %d full passes in all; want 5, 0", r.listings, r.fullPasses)
	}

	// pid 100 closes 1002 and opens 1003 on another fd number: the same count, but a
	// table socket left, so it is listed.
	removeAll(t, root, "100", "fd", "4")
	setFD(t, root, 100, "9", "socket:[1003]")
	table = socks(1001, 2001, 2002, 4001, 1003)
	r.Resolve(table, nil)
	if diff := cmp.Diff([]int{100, 200, 200, 400, 100}, pidsOf(table)); diff != "" {
		t.Errorf("PIDs mismatch (-want +got):\n%s", diff)
	}
	if r.listings != 6 || r.fullPasses != 0 {
		t.Errorf("third walk: %d listings, %d full passes in all; want 6, 0", r.listings, r.fullPasses)
	}

	// pid 300 closes a file and opens a socket on another fd number: nothing tells
	// without listing, so the full pass lists all 4 processes.
	removeAll(t, root, "300", "fd", "1")
	setFD(t, root, 300, "7", "socket:[3007]")
	table = append(table, sock(3007))
	r.Resolve(table, nil)
	if got := table[len(table)-1].PID; got != 300 {
		t.Errorf("PID of 3007 = %d, want 300", got)
	}
	if r.listings != 10 || r.fullPasses != 1 {
		t.Errorf("fourth walk: %d listings, %d full passes in all; want 10, 1", r.listings, r.fullPasses)
	}
}

func TestProcResolverKernelWithoutFDCount(t *testing.T) {
	// Before Linux 6.2 the size of /proc/PID/fd is 0: every process with fds is listed
	// at every walk, and resolution is the same.
	root := basicTree(t)
	r, _ := newTestResolver(root)
	r.fdCount = func(string) (int, bool) { return 0, true }
	r.Resolve(socks(1001), nil)
	setFD(t, root, 200, "8", "socket:[2002]")
	s := socks(1001, 2002)
	r.Resolve(s, nil)
	if diff := cmp.Diff([]int{100, 200}, pidsOf(s)); diff != "" {
		t.Errorf("PIDs mismatch (-want +got):\n%s", diff)
	}
	if r.listings != 6 {
		t.Errorf("%d listings in 2 walks, want 6", r.listings)
	}
	checkStats(t, r, 2, 12)
}

func TestProcResolverPIDReuseAndExec(t *testing.T) {
	root := basicTree(t)
	r, _ := newTestResolver(root)
	procs := map[int]*Proc{}
	r.Resolve(socks(1001, 2001), procs)
	old := procs[100]

	// pid 100 exits and a new process gets the pid, with the same fd names: fd 3 is
	// now a file, fd 4 a new socket (1002 was still open elsewhere, say).
	writeProc(t, root, fakeProc{pid: 100, comm: "nginx", cmdline: "other\x00", uid: 33, start: 99999,
		fds: map[string]string{"3": "/etc/passwd", "4": "socket:[1030]"}})
	setFD(t, root, 300, "4", "socket:[1002]")
	s := socks(1001, 1002, 1030, 2001)
	procs = map[int]*Proc{}
	r.Resolve(s, procs)
	if diff := cmp.Diff([]int{0, 300, 100, 200}, pidsOf(s)); diff != "" {
		t.Errorf("PIDs mismatch (-want +got):\n%s", diff)
	}
	// The changed fd names made the walk compare the start time, which forgets the old
	// process's fds: 2 links of pid 100 and the new one of pid 300 are read, and no full
	// pass is needed.
	checkStats(t, r, 2, 14)
	want := &Proc{PID: 100, Comm: "nginx", Cmdline: "other", UID: 33, User: userNameOf(33)}
	if diff := cmp.Diff(want, procs[100]); diff != "" {
		t.Errorf("procs[100] after pid reuse mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&Proc{PID: 100, Comm: "nginx", Cmdline: "nginx: master process -g daemon off;", UID: 0, User: "root"}, old); diff != "" {
		t.Errorf("the *Proc published before was modified (-want +got):\n%s", diff)
	}

	// pid 200 execs another program: same start time, new name and command line.
	writeProc(t, root, fakeProc{pid: 200, comm: "nc", cmdline: "nc\x00-l\x00", uid: 4242424, start: 700,
		fds: map[string]string{"7": "socket:[2001]", "8": "socket:[2002]"}})
	s = socks(2001, 2002)
	procs = map[int]*Proc{}
	r.Resolve(s, procs)
	if diff := cmp.Diff([]int{200, 200}, pidsOf(s)); diff != "" {
		t.Errorf("PIDs mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&Proc{PID: 200, Comm: "nc", Cmdline: "nc -l", UID: 4242424, User: "4242424"}, procs[200]); diff != "" {
		t.Errorf("procs[200] after exec mismatch (-want +got):\n%s", diff)
	}
}

// userNameOf returns the name os/user gives uid, or the number.
func userNameOf(uid uint32) string {
	if u, err := user.LookupId(strconv.Itoa(int(uid))); err == nil {
		return u.Username
	}
	return strconv.Itoa(int(uid))
}

func TestProcResolverUnreadableFDDir(t *testing.T) {
	root := basicTree(t)
	// Root can read any directory whatever its mode, so an unreadable fd directory is
	// simulated with a file in its place (ENOTDIR), which takes the same path as EACCES.
	// TestProcResolverUnprivileged checks the real EACCES as user nobody.
	writeProc(t, root, fakeProc{pid: 600, comm: "secret", uid: 1, start: 1})
	removeAll(t, root, "600", "fd")
	if err := os.WriteFile(filepath.Join(root, "600", "fd"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r, _ := newTestResolver(root)
	s := socks(1001, 6001)
	r.Resolve(s, nil)
	if diff := cmp.Diff([]int{100, 0}, pidsOf(s)); diff != "" {
		t.Errorf("PIDs mismatch (-want +got):\n%s", diff)
	}
	if r.AllProcesses() {
		t.Errorf("AllProcesses() = true with an unreadable fd directory, want false")
	}
	// The unresolvable inode does not cause a walk per call: one more at once (its first
	// miss), then none.
	r.Resolve(socks(6001), nil)
	r.Resolve(socks(6001), nil)
	r.Resolve(socks(6001), nil)
	if walks, _ := r.Stats(); walks != 2 {
		t.Errorf("walks = %d, want 2", walks)
	}
	// Once readable, the next walk says so again.
	removeAll(t, root, "600")
	setFD(t, root, 300, "5", "socket:[3005]")
	r.Resolve(socks(3005), nil)
	if !r.AllProcesses() {
		t.Errorf("AllProcesses() = false after the unreadable process exited, want true")
	}
}

func TestProcResolverUnreadableLink(t *testing.T) {
	root := basicTree(t)
	// A listable fd directory whose links cannot be read: on Linux, a process with
	// capabilities the reader lacks (EACCES). Simulated with a regular file in place of
	// the link (EINVAL from readlink), which takes the same path.
	writeProc(t, root, fakeProc{pid: 700, comm: "capable", uid: 0, start: 1, fds: map[string]string{"3": "socket:[7003]"}})
	if err := os.WriteFile(filepath.Join(root, "700", "fd", "4"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r, _ := newTestResolver(root)
	s := socks(1001, 7003)
	r.Resolve(s, nil)
	if diff := cmp.Diff([]int{100, 700}, pidsOf(s)); diff != "" {
		t.Errorf("PIDs mismatch (-want +got):\n%s", diff)
	}
	if r.AllProcesses() {
		t.Errorf("AllProcesses() = true with an unreadable link, want false")
	}
	checkStats(t, r, 1, 13)
	// Later walks neither read the link again nor forget that it is unreadable.
	setFD(t, root, 300, "5", "socket:[3005]")
	r.Resolve(socks(1001, 7003, 3005), nil)
	checkStats(t, r, 2, 14)
	if r.AllProcesses() {
		t.Errorf("AllProcesses() = true on the next walk, want false")
	}
}

func TestProcResolverMissingRoot(t *testing.T) {
	r, _ := newTestResolver(filepath.Join(t.TempDir(), "nothing"))
	s := socks(1)
	r.Resolve(s, nil)
	if s[0].PID != 0 || r.AllProcesses() {
		t.Errorf("PID = %d, AllProcesses() = %v; want 0, false", s[0].PID, r.AllProcesses())
	}
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		in        string
		wantStart uint64
		wantComm  string
		wantErr   bool
	}{
		{in: "1 (systemd) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 42 1000 100", wantStart: 42, wantComm: "systemd"},
		{in: "7 (a) b (c)) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 43 1000\n", wantStart: 43, wantComm: "a) b (c)"},
		{in: "7 () S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 44", wantStart: 44, wantComm: ""},
		{in: "7 (x) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0", wantErr: true},
		{in: "7 (x) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 -5", wantErr: true},
		{in: "7 x S", wantErr: true},
		{in: "7 )x( S", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		start, comm, err := parseStat([]byte(tt.in))
		if (err != nil) != tt.wantErr || start != tt.wantStart || comm != tt.wantComm {
			t.Errorf("parseStat(%q) = %d, %q, %v; want %d, %q, error %v", tt.in, start, comm, err, tt.wantStart, tt.wantComm, tt.wantErr)
		}
	}
}

func TestParseStatusUID(t *testing.T) {
	tests := []struct {
		in      string
		want    uint32
		wantErr bool
	}{
		{in: "Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t5\t5\t5\t5\n", want: 1000},
		{in: "Uid:\t4294967295\t0\t0\t0", want: 4294967295},
		{in: "Name:\tx\nGid:\t5\n", wantErr: true},
		{in: "Uid:\t4294967296\t0\t0\t0\n", wantErr: true},
		{in: "Uid:\n", wantErr: true},
		{in: "Uid:\tx\n", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseStatusUID([]byte(tt.in))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseStatusUID(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestSocketInode(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
	}{
		{"socket:[12345]", 12345},
		{"socket:[18446744073709551615]", 1<<64 - 1},
		{"socket:[]", 0},
		{"socket:[12a]", 0},
		{"socket:[12", 0},
		{"pipe:[12]", 0},
		{"/dev/null", 0},
		{"anon_inode:[eventfd]", 0},
		{"", 0},
	}
	for _, tt := range tests {
		if got := socketInode(tt.in); got != tt.want {
			t.Errorf("socketInode(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// inodeOf returns the socket inode of a listener or connection, from fstat.
func inodeOf(t *testing.T, c syscall.Conn) uint64 {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	var serr error
	if err := raw.Control(func(fd uintptr) { serr = syscall.Fstat(int(fd), &st) }); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatalf("fstat: %v", serr)
	}
	return uint64(st.Ino)
}

// listen opens a TCP listener on a loopback port, closed at the end of the test.
func listen(t *testing.T) *net.TCPListener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.(*net.TCPListener)
}

// skipWithoutProc skips a test that needs a Linux /proc.
func skipWithoutProc(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("needs the Linux /proc")
	}
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skipf("needs /proc: %v", err)
	}
}

// ownComm is the kernel's name of this test binary: its file name cut to 15 bytes.
func ownComm() string {
	comm := filepath.Base(os.Args[0])
	if len(comm) > 15 {
		comm = comm[:15]
	}
	return comm
}

func TestProcResolverLive(t *testing.T) {
	skipWithoutProc(t)
	l := listen(t)
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	r := newProcResolver("/proc")
	s := socks(inodeOf(t, l), inodeOf(t, client.(*net.TCPConn)), inodeOf(t, server.(*net.TCPConn)))
	procs := map[int]*Proc{}
	r.Resolve(s, procs)
	pid := os.Getpid()
	if diff := cmp.Diff([]int{pid, pid, pid}, pidsOf(s)); diff != "" {
		t.Errorf("PIDs mismatch (-want +got):\n%s", diff)
	}
	p := procs[pid]
	if p == nil {
		t.Fatalf("procs[%d] missing: %v", pid, procs)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if p.Comm != ownComm() || p.UID != uint32(os.Getuid()) || p.User != u.Username || !strings.HasPrefix(p.Cmdline, os.Args[0]+" ") {
		t.Errorf("procs[%d] = %+v; want comm %q, uid %d, user %q, cmdline starting with %q",
			pid, p, ownComm(), os.Getuid(), u.Username, os.Args[0])
	}
	walks, readlinks := r.Stats()
	t.Logf("first walk over /proc: %d readlinks, all processes visible: %v", readlinks, r.AllProcesses())

	// The server closes its connection and accepts another, likely on the same fd
	// number: one walk finds it.
	server.Close()
	client2, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client2.Close()
	server2, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server2.Close()
	s = socks(inodeOf(t, l), inodeOf(t, client.(*net.TCPConn)), inodeOf(t, server2.(*net.TCPConn)))
	r.Resolve(s, procs)
	if diff := cmp.Diff([]int{pid, pid, pid}, pidsOf(s)); diff != "" {
		t.Errorf("PIDs after a new connection mismatch (-want +got):\n%s", diff)
	}
	if w, _ := r.Stats(); w != walks+1 {
		t.Errorf("walks = %d, want %d", w, walks+1)
	}
	_, readlinks2 := r.Stats()
	t.Logf("second walk: %d readlinks", readlinks2-readlinks)
}

func TestProcFDCountLive(t *testing.T) {
	skipWithoutProc(t)
	// The fd count from stat must equal the listing, less the fd that the listing
	// itself opens. Another goroutine may open or close an fd in between: try again.
	var n, listed int
	for range 5 {
		var ok bool
		n, ok = procFDCount("/proc/self/fd")
		if !ok {
			t.Fatal("stat /proc/self/fd failed")
		}
		if n == 0 {
			t.Skip("this kernel does not report the fd count as the size of /proc/PID/fd (Linux < 6.2)")
		}
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		if listed = len(entries) - 1; listed == n {
			return
		}
	}
	t.Errorf("procFDCount(/proc/self/fd) = %d, the listing has %d fds", n, listed)
}

// envAsNobody marks the run of TestProcResolverUnprivileged as user nobody; envRootInode
// passes it the inode of a socket that the root test process holds.
const (
	envAsNobody  = "WIRETOP_TEST_AS_NOBODY"
	envRootInode = "WIRETOP_TEST_ROOT_INODE"
)

// TestProcResolverUnprivileged runs the resolver as a user that cannot read the fds of
// other users' processes. As root it runs itself again as user nobody with setpriv (from
// util-linux), holding a listener that nobody cannot see.
func TestProcResolverUnprivileged(t *testing.T) {
	skipWithoutProc(t)
	if os.Getenv(envAsNobody) == "1" || os.Geteuid() != 0 {
		unprivilegedResolve(t)
		return
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("needs setpriv (util-linux) to run as user nobody")
	}
	// A copy of the test binary that nobody can read and run.
	dir, err := os.MkdirTemp("", "wiretop-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, filepath.Base(os.Args[0]))
	if err := copyFile(os.Args[0], bin, 0o755); err != nil {
		t.Fatal(err)
	}
	l := listen(t)
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--",
		bin, "-test.run=^TestProcResolverUnprivileged$", "-test.v", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), envAsNobody+"=1", envRootInode+"="+strconv.FormatUint(inodeOf(t, l), 10))
	out, err := cmd.CombinedOutput()
	t.Logf("as nobody:\n%s", out)
	if err != nil {
		t.Fatalf("the run as nobody failed: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: TestProcResolverUnprivileged") {
		t.Fatalf("the run as nobody did not pass the test")
	}
}

// unprivilegedResolve checks, as a user that is not root, that the resolver finds its own
// sockets, says that it cannot see all processes, and does not walk for the sockets of
// other users on every call.
func unprivilegedResolve(t *testing.T) {
	l := listen(t)
	var foreign uint64 // a socket of another user, when there is one
	if v := os.Getenv(envRootInode); v != "" {
		var err error
		if foreign, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	r := newProcResolver("/proc")
	s := socks(inodeOf(t, l), foreign)
	procs := map[int]*Proc{}
	r.Resolve(s, procs)
	pid := os.Getpid()
	if diff := cmp.Diff([]int{pid, 0}, pidsOf(s)); diff != "" {
		t.Errorf("PIDs mismatch (-want +got):\n%s", diff)
	}
	if p := procs[pid]; p == nil || p.UID != uint32(os.Getuid()) || p.Comm != ownComm() {
		t.Errorf("procs[%d] = %+v, want comm %q and uid %d", pid, p, ownComm(), os.Getuid())
	}
	// Another user's process: the parent (root) when run by setpriv, else pid 1 if it
	// belongs to someone else.
	other := 0
	for _, p := range []int{os.Getppid(), 1} {
		if fi, err := os.Stat(filepath.Join("/proc", strconv.Itoa(p))); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != uint32(os.Getuid()) {
				other = p
				break
			}
		}
	}
	if other != 0 && r.AllProcesses() {
		t.Errorf("AllProcesses() = true, but the fds of pid %d (another user) are not readable", other)
	}
	t.Logf("AllProcesses() = %v (another user's pid: %d)", r.AllProcesses(), other)
	if foreign != 0 {
		r.Resolve(socks(foreign), nil)
		r.Resolve(socks(foreign), nil)
		r.Resolve(socks(foreign), nil)
		if walks, _ := r.Stats(); walks != 2 {
			t.Errorf("walks = %d after resolving another user's socket 4 times, want 2 (the first, and one retry of a new socket)", walks)
		}
	}
}

// copyFile copies src to dst with the given mode.
func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// benchTree writes nPIDs processes with fdsPerPID socket fds each (inodes from 1e6) and
// returns the root and the socket table.
func benchTree(b *testing.B, nPIDs, fdsPerPID int) (string, []Socket) {
	root := b.TempDir()
	var table []Socket
	for p := range nPIDs {
		fds := map[string]string{"0": "/dev/null", "1": "/dev/null", "2": "/dev/null"}
		for f := range fdsPerPID {
			ino := uint64(1_000_000 + p*fdsPerPID + f)
			fds[strconv.Itoa(3+f)] = "socket:[" + strconv.FormatUint(ino, 10) + "]"
			table = append(table, sock(ino))
		}
		writeProc(b, root, fakeProc{pid: 1000 + p, comm: "bench", cmdline: "bench\x00", uid: 0, start: uint64(p), fds: fds})
	}
	return root, table
}

// BenchmarkResolveSteadyState resolves a table of 10,000 known sockets held by 200
// processes: the per-tick cost when no socket is new.
func BenchmarkResolveSteadyState(b *testing.B) {
	root, table := benchTree(b, 200, 50)
	r := newProcResolver(root)
	procs := map[int]*Proc{}
	r.Resolve(table, procs)
	if table[len(table)-1].PID == 0 {
		b.Fatal("not resolved")
	}
	walks, _ := r.Stats()
	b.ReportAllocs()
	for b.Loop() {
		clear(procs)
		r.Resolve(table, procs)
	}
	if w, _ := r.Stats(); w != walks {
		b.Fatalf("%d walks in the steady state", w-walks)
	}
}

// BenchmarkResolveWalk measures a walk over a fixture tree of 200 processes with 53 fds
// each: "first" reads every link, "incremental" finds one new socket. A fixture tree on
// disk is not /proc (readlink there costs more), so compare the two, not the figures.
func BenchmarkResolveWalk(b *testing.B) {
	b.Run("first", func(b *testing.B) {
		root, table := benchTree(b, 200, 50)
		b.ReportAllocs()
		for b.Loop() {
			r := newProcResolver(root)
			r.Resolve(table, nil)
		}
	})
	b.Run("incremental", func(b *testing.B) {
		root, table := benchTree(b, 200, 50)
		r := newProcResolver(root)
		r.Resolve(table, nil)
		table = append(table, Socket{})
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			// A new socket in pid 1000 on a new fd name each time.
			b.StopTimer()
			ino := uint64(9_000_000 + i)
			setFD(b, root, 1000, strconv.Itoa(1000+i), "socket:["+strconv.FormatUint(ino, 10)+"]")
			table[len(table)-1] = sock(ino)
			i++
			b.StartTimer()
			r.Resolve(table, nil)
			if table[len(table)-1].PID != 1000 {
				b.Fatal("new socket not resolved")
			}
		}
	})
}
