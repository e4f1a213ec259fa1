package sampler

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	// negativeTTL is how long an inode that a walk could not resolve is left alone
	// before it may cause another walk. Such inodes belong to processes this user may
	// not inspect, to the kernel (nfsd, wireguard), or to another pid namespace. Each
	// further walk that misses it doubles its wait, up to maxNegativeTTL: a full walk
	// costs about 5 us per fd (a quarter of a second on a busy host), and such a socket
	// usually stays unresolvable for its whole life.
	negativeTTL    = 30 * time.Second
	maxNegativeTTL = 10 * time.Minute

	// ownerCheckInterval is how often Resolve checks that the cached owners of the
	// sockets it is given are still alive (one stat of procRoot/PID per owner). A socket
	// outlives its owner when another process holds it too: a daemon that forks and
	// exits, a listener passed to a worker. A dead owner makes its sockets unknown,
	// which causes one walk that finds the new holder.
	ownerCheckInterval = 10 * time.Second
)

// procResolver maps socket inodes to the processes that hold them, from procRoot/PID/fd.
// It is not safe for concurrent use.
//
// A full walk of /proc/*/fd costs about 5 us per fd (75 ms for 11k fds), so the resolver
// caches, and walks only when Resolve meets a socket inode that is neither cached nor in
// a negative cache of inodes that the last walks could not find (entries expire after
// negativeTTL), at most once per Resolve call.
//
// The walk is incremental. Listing a /proc/PID/fd directory costs about as much per fd
// as reading the links (procfs instantiates a dentry per fd), so a cached process is
// not even listed when its fd count (one stat, see unchanged) is the same and none of
// its cached sockets left the socket table. Other processes are listed (one getdents)
// and only these links are read (one readlink each):
//   - fd names not seen before for this pid (new fds, new processes);
//   - fd names whose cached target was a socket of the socket table that is no longer in
//     it: the socket was closed, and its fd number may have been reused (accept(2) and
//     socket(2) return the lowest free number, so this is the common case of reuse).
//
// Fd names that disappeared are forgotten, pids that disappeared are dropped. An fd number
// reused for a socket after it pointed to something else (a file, a pipe, a Unix
// socket, or a table socket that another process still holds), with the same fd count,
// cannot be seen this way: when the incremental pass leaves one of the inodes that caused
// the walk unresolved, the same walk lists every process and reads every link it has not
// read yet (the full pass), so a visible socket is always found. Links that could not be
// read (EACCES) are not retried until their fd name goes away. The full pass also runs
// when the inode belongs to no visible process (another user's process, a kernel
// socket), at most once per negativeTTL per inode.
//
// Pid reuse and exec are detected by the start time and name in procRoot/PID/stat, read
// for a process that owns table sockets when its fd names changed (a new program opens
// and closes fds); a changed one is reloaded and its fds re-read. An exec that keeps
// exactly the same fd names keeps the old name until the pid's fds change.
//
// A socket shared by several processes (fork) is attributed to the lowest pid that holds
// it as its stdin or stdout, else to the lowest pid: a shell forked with a connection as
// its stdio (`sh <&196 >&196`, python's subprocess.call(["/bin/sh"], stdin=s, stdout=s))
// is the process that uses it, while its parent, with the lower pid, keeps it on another
// fd.
type procResolver struct {
	root   string
	now    func() time.Time // time source, replaced in tests
	negTTL time.Duration

	pids   map[int]*pidFDs
	owners map[uint64]*pidFDs  // socket inode -> the lowest pid holding it, from the last walk
	stdio  map[uint64]*pidFDs  // socket inode -> the lowest pid holding it as fd 0 or 1, from the last walk
	neg    map[uint64]negEntry // inode -> when a walk last failed to find it, and the wait
	users  map[uint32]string   // uid -> user name

	all       bool      // every fd directory was readable in the last walk
	gen       uint64    // number of the current or last walk
	lastCheck time.Time // last owner liveness check

	walks, readlinks int
	listings         int // fd directories listed (for tests)
	fullPasses       int // walks that needed the full pass (for tests)

	// fdCount returns the number of open fds of a process from its fd directory
	// without listing it; replaced in tests, where fixture directories do not have it.
	fdCount func(fdDir string) (n int, ok bool)

	// Scratch space reused by Resolve.
	want    []uint64
	checked map[int]bool
}

// negEntry is an inode that walks could not resolve: it causes no walk before at+ttl.
type negEntry struct {
	at     time.Time
	ttl    time.Duration
	misses int
}

// pidFDs is what the resolver remembers about one process.
type pidFDs struct {
	pid   int
	dir   string             // procRoot/PID
	fdDir string             // procRoot/PID/fd
	fds   map[string]fdEntry // fd name -> what the link pointed to when last read
	seen  uint64             // the last walk that found this pid

	// proc is loaded when the pid owns a socket of the table and is nil before. A
	// published *Proc is never modified: a change makes a new one.
	proc     *Proc
	start    uint64 // start time (field 22 of stat) when proc was loaded
	statComm string // the name in stat when proc was loaded
}

// fdEntry is the cached target of one /proc/PID/fd/N link.
type fdEntry struct {
	inode  uint64 // socket inode, or 0 for anything but a socket
	table  bool   // the inode was in the socket table of a walk since the link was read
	read   uint64 // the walk that read the link
	seen   uint64 // the last walk that listed the fd name
	denied bool   // the link could not be read (EACCES)
}

// newProcResolver returns a resolver for the processes under procRoot (usually "/proc").
func newProcResolver(procRoot string) *procResolver {
	return &procResolver{
		root:    procRoot,
		now:     time.Now,
		fdCount: procFDCount,
		negTTL:  negativeTTL,
		pids:    make(map[int]*pidFDs),
		owners:  make(map[uint64]*pidFDs),
		stdio:   make(map[uint64]*pidFDs),
		neg:     make(map[uint64]negEntry),
		users:   make(map[uint32]string),
		checked: make(map[int]bool),
	}
}

// Resolve sets socks[i].PID for every socket whose Inode is non-zero and known, and puts
// each owner in procs (which may be nil). Other sockets are left as they are. The *Proc
// values are shared with later calls and must not be modified.
//
// socks should be the whole socket table (TCP and UDP): a cached socket that is missing
// from it counts as closed, so its fd is read again at the next walk (correct, but a
// waste when it is still open).
func (r *procResolver) Resolve(socks []Socket, procs map[int]*Proc) {
	now := r.now()
	check := now.Sub(r.lastCheck) >= ownerCheckInterval
	if check {
		r.lastCheck = now
		clear(r.checked)
	}
	r.want = r.want[:0]
	for i := range socks {
		ino := socks[i].Inode
		if ino == 0 {
			continue
		}
		p := r.owners[ino]
		if p != nil && p.proc != nil {
			if q := r.stdio[ino]; check && (!r.ownerAlive(p) || q != nil && !r.ownerAlive(q)) {
				r.want = append(r.want, ino)
			}
			continue
		}
		if e, ok := r.neg[ino]; ok && now.Sub(e.at) < e.ttl {
			continue
		}
		if p != nil && r.refreshProc(p) {
			// Known from the last walk, when it was not in the socket table yet, so
			// its owner's details were not loaded then.
			continue
		}
		r.want = append(r.want, ino)
	}
	if len(r.want) > 0 {
		r.walk(socks, now)
	}
	var last *pidFDs // the owner of the previous socket: often the same process
	for i := range socks {
		s := &socks[i]
		if s.Inode == 0 {
			continue
		}
		p := r.owners[s.Inode]
		if q := r.stdio[s.Inode]; q != nil && q.proc != nil {
			p = q
		}
		if p == nil || p.proc == nil {
			continue
		}
		s.PID = p.pid
		s.Stdio = s.Proto == ProtoTCP && s.State == StateEstablished && p.stdio(s.Inode)
		if procs != nil && p != last {
			procs[p.pid] = p.proc
			last = p
		}
	}
}

// known reports whether the owner of a socket inode and its details are cached.
func (r *procResolver) known(ino uint64) bool {
	p := r.owners[ino]
	return p != nil && p.proc != nil
}

// AllProcesses reports whether every process's fd directory was readable in the last
// walk (false for an unprivileged user: then only its own processes are resolved).
// It is false before the first walk.
func (r *procResolver) AllProcesses() bool { return r.all }

// Stats reports how many walks and fd readlinks the resolver has done, for tests and
// benchmarks.
func (r *procResolver) Stats() (walks, readlinks int) { return r.walks, r.readlinks }

// ownerAlive reports whether procRoot/PID still exists, checking each pid once per
// liveness check.
func (r *procResolver) ownerAlive(p *pidFDs) bool {
	if alive, ok := r.checked[p.pid]; ok {
		return alive
	}
	_, err := os.Lstat(p.dir)
	r.checked[p.pid] = err == nil
	return err == nil
}

// walk refreshes the cache from procRoot/*/fd, looking for the inodes in r.want; socks is
// the current socket table.
func (r *procResolver) walk(socks []Socket, now time.Time) {
	r.walks++
	r.gen++
	table := make(map[uint64]struct{}, len(socks))
	for i := range socks {
		if socks[i].Inode != 0 {
			table[socks[i].Inode] = struct{}{}
		}
	}

	d, err := os.Open(r.root)
	if err != nil {
		r.all = false
		return
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		r.all = false
		return
	}
	r.all = true
	pids := make([]int, 0, len(names))
	for _, name := range names {
		if pid, err := strconv.Atoi(name); err == nil && pid > 0 {
			pids = append(pids, pid) // not self, net, sys, ...
		}
	}
	for _, pid := range pids {
		r.walkPID(pid, table, false)
	}
	for pid, p := range r.pids {
		if p.seen != r.gen {
			delete(r.pids, pid) // vanished, or its fds are no longer readable
		}
	}
	r.rebuildOwners()

	if r.missing() {
		// An fd number was reused for a socket, or the inode belongs to no visible
		// process: list every process and read every link not read in this walk.
		r.fullPasses++
		for _, pid := range pids {
			r.walkPID(pid, table, true)
		}
		r.rebuildOwners()
	}

	for ino := range r.neg {
		_, found := r.owners[ino]
		if _, open := table[ino]; found || !open {
			delete(r.neg, ino)
		}
	}
	// Load the details of the processes that own table sockets.
	for ino := range table {
		if p := r.owners[ino]; p != nil && p.proc == nil {
			r.refreshProc(p)
		}
		if p := r.stdio[ino]; p != nil && p.proc == nil {
			r.refreshProc(p)
		}
	}
	for _, ino := range r.want {
		if r.known(ino) {
			continue
		}
		e := r.neg[ino]
		e.misses++
		switch {
		case e.misses == 1:
			// a socket seen for the first time may be in the table a moment before its
			// fd is installed (socket(2), accept(2)): it may cause one more walk at once
			e.ttl = 0
		case e.misses == 2:
			e.ttl = r.negTTL
		default:
			e.ttl = min(2*e.ttl, maxNegativeTTL)
		}
		e.at = now
		r.neg[ino] = e
	}
}

// walkPID refreshes the cached fds of one process: it lists them and reads the links
// that may have changed. In the incremental pass (full false) a cached process whose fds
// look unchanged is not listed; the full pass lists every process and also reads every
// link not read in this walk.
func (r *procResolver) walkPID(pid int, table map[uint64]struct{}, full bool) {
	p := r.pids[pid]
	if p == nil {
		dir := filepath.Join(r.root, strconv.Itoa(pid))
		p = &pidFDs{pid: pid, dir: dir, fdDir: filepath.Join(dir, "fd"), fds: make(map[string]fdEntry)}
	} else if !full && r.unchanged(p, table) {
		p.seen = r.gen
		return
	}
	r.listings++
	f, err := os.Open(p.fdDir)
	if err != nil {
		if !vanished(err) {
			r.all = false // EACCES: another user's process
		}
		return
	}
	fds, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		if !vanished(err) {
			r.all = false
		}
		return
	}
	if p.proc != nil && fdsChanged(p.fds, fds) {
		// A process whose details were published opened or closed fds: make sure it is
		// still the same program (no pid reuse, no exec) before trusting its cached fds.
		start, comm, err := readStat(p.dir)
		if err != nil {
			return // exited
		}
		if start != p.start || comm != p.statComm {
			clear(p.fds)
			if err := r.loadProc(p, start, comm); err != nil {
				return
			}
		}
	}
	r.pids[pid] = p
	p.seen = r.gen
	for _, name := range fds {
		e, ok := p.fds[name]
		if ok && e.table {
			if _, inTable := table[e.inode]; !inTable {
				ok = false // the socket was closed; the fd number may be reused
			}
		}
		if ok && full && e.read != r.gen && !e.denied {
			ok = false // the full pass: read it again
		}
		if !ok {
			r.readFD(p, name, table)
			continue
		}
		if e.denied {
			r.all = false
		}
		if e.inode != 0 && !e.table {
			_, e.table = table[e.inode]
		}
		e.seen = r.gen
		p.fds[name] = e
	}
	for name, e := range p.fds {
		if e.seen != r.gen {
			delete(p.fds, name) // closed
		}
	}
}

// unchanged reports whether the fds of a cached process are likely the cached ones,
// without listing them: the number of open fds is the same (Linux 6.2 and later report
// it as the size of /proc/PID/fd; older kernels report 0, which only matches a process
// without fds, such as a kernel thread) and none of its cached table sockets was closed.
// It marks the cached sockets that are now in the table. What it misses, an fd closed
// and another opened between two walks with no table socket among them, the full pass
// finds.
func (r *procResolver) unchanged(p *pidFDs, table map[uint64]struct{}) bool {
	n, ok := r.fdCount(p.fdDir)
	if !ok || n != len(p.fds) {
		return false
	}
	for name, e := range p.fds {
		if e.denied {
			r.all = false
		}
		if e.inode == 0 {
			continue
		}
		_, inTable := table[e.inode]
		if e.table && !inTable {
			return false // closed: its fd number may be reused
		}
		if inTable && !e.table {
			e.table = true
			p.fds[name] = e
		}
	}
	return true
}

// procFDCount returns the number of open fds of a process, the size that Linux 6.2 and
// later report for /proc/PID/fd (fs/proc/fd.c, proc_fd_getattr); 0 on older kernels.
func procFDCount(fdDir string) (int, bool) {
	fi, err := os.Stat(fdDir)
	if err != nil {
		return 0, false
	}
	return int(fi.Size()), true
}

// fdsChanged reports whether the listed fd names differ from the cached ones.
func fdsChanged(cached map[string]fdEntry, names []string) bool {
	if len(names) != len(cached) {
		return true
	}
	for _, name := range names {
		if _, ok := cached[name]; !ok {
			return true
		}
	}
	return false
}

// readFD reads one fd link of pid and caches its socket inode.
func (r *procResolver) readFD(p *pidFDs, name string, table map[uint64]struct{}) {
	r.readlinks++
	target, err := os.Readlink(filepath.Join(p.dir, "fd", name))
	if err != nil {
		if vanished(err) {
			delete(p.fds, name) // closed since the listing, or the process exited
			return
		}
		// EACCES: the fd directory can be listed but not its links, e.g. a process
		// with capabilities that this one lacks (ptrace access check). Remember it, so
		// that it is not read again on every walk.
		r.all = false
		p.fds[name] = fdEntry{denied: true, read: r.gen, seen: r.gen}
		return
	}
	ino := socketInode(target)
	_, inTable := table[ino]
	p.fds[name] = fdEntry{inode: ino, table: ino != 0 && inTable, read: r.gen, seen: r.gen}
}

// rebuildOwners recomputes the inode -> owner maps from the cached fds, choosing the
// lowest pid for a shared socket: of all its holders (owners), and of those that hold it
// as fd 0 or 1 (stdio).
func (r *procResolver) rebuildOwners() {
	clear(r.owners)
	clear(r.stdio)
	for _, p := range r.pids {
		for name, e := range p.fds {
			if e.inode == 0 {
				continue
			}
			if o := r.owners[e.inode]; o == nil || p.pid < o.pid {
				r.owners[e.inode] = p
			}
			if name != "0" && name != "1" {
				continue
			}
			if o := r.stdio[e.inode]; o == nil || p.pid < o.pid {
				r.stdio[e.inode] = p
			}
		}
	}
}

// missing reports whether an inode that caused the walk is still not resolved.
func (r *procResolver) missing() bool {
	for _, ino := range r.want {
		if _, ok := r.owners[ino]; !ok {
			return true
		}
	}
	return false
}

// refreshProc loads the details of pid when they are missing or stale, and reports
// whether it has details. On error (the process exited) proc stays as it was.
func (r *procResolver) refreshProc(p *pidFDs) bool {
	start, comm, err := readStat(p.dir)
	if err != nil {
		return p.proc != nil
	}
	if p.proc == nil || start != p.start || comm != p.statComm {
		r.loadProc(p, start, comm)
	}
	return p.proc != nil
}

// loadProc reads comm, cmdline, the executable and the real uid of pid into a new *Proc.
func (r *procResolver) loadProc(p *pidFDs, start uint64, statComm string) error {
	comm, err := os.ReadFile(filepath.Join(p.dir, "comm"))
	if err != nil {
		return err
	}
	cmdline, err := os.ReadFile(filepath.Join(p.dir, "cmdline"))
	if err != nil {
		return err
	}
	status, err := os.ReadFile(filepath.Join(p.dir, "status"))
	if err != nil {
		return err
	}
	uid, err := parseStatusUID(status)
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(p.dir, "status"), err)
	}
	exe, _ := os.Readlink(filepath.Join(p.dir, "exe")) // a process identity for history; optional
	exe = strings.TrimSuffix(exe, " (deleted)")        // an upgraded binary is the same program
	p.proc = &Proc{
		PID:     p.pid,
		Exe:     exe,
		Comm:    string(bytes.TrimSuffix(comm, []byte{'\n'})),
		Cmdline: string(bytes.TrimSpace(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))),
		UID:     uid,
		User:    r.userName(uid),
		NetNS:   readNetNS(p.dir),
	}
	p.proc.Container, p.proc.Unit = containerOf(readCgroup(r.root, p.pid))
	p.start, p.statComm = start, statComm
	return nil
}

// userName returns the name of uid from the user database, or the decimal uid when it
// has none. Names are cached per uid.
func (r *procResolver) userName(uid uint32) string { return userName(r.users, uid) }

// userName returns the name of uid, cached in users (up to 4096 of them).
func userName(users map[uint32]string, uid uint32) string {
	if name, ok := users[uid]; ok {
		return name
	}
	id := strconv.FormatUint(uint64(uid), 10)
	name := id
	if u, err := user.LookupId(id); err == nil && u.Username != "" {
		name = u.Username
	}
	if len(users) < 4096 {
		users[uid] = name
	}
	return name
}

// readStat returns the start time (field 22, in clock ticks since boot) and the name of
// the process from dir/stat (fs/proc/array.c, do_task_stat).
func readStat(dir string) (start uint64, comm string, err error) {
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return 0, "", err
	}
	return parseStat(b)
}

// parseStat parses "pid (comm) state ppid ... starttime ...". The name may contain
// spaces and parentheses, so it ends at the last ')'.
func parseStat(b []byte) (start uint64, comm string, err error) {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return 0, "", fmt.Errorf("stat: no (name): %w", ErrMalformed)
	}
	rest := b[end+1:]
	// Fields after the name start at field 3 (state); starttime is field 22.
	var f []byte
	for i := 3; i <= 22; i++ {
		f, rest = cutField(rest)
		if f == nil {
			return 0, "", fmt.Errorf("stat: %d fields, want 22: %w", i-1, ErrMalformed)
		}
	}
	start, err = atoCounter(f)
	if err != nil {
		return 0, "", fmt.Errorf("stat: starttime: %w", err)
	}
	return start, string(b[open+1 : end]), nil
}

// parseStatusUID returns the real uid, the first number of the "Uid:" line of
// /proc/PID/status.
func parseStatusUID(b []byte) (uint32, error) {
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		rest, ok := bytes.CutPrefix(line, []byte("Uid:"))
		if !ok {
			continue
		}
		f, _ := cutField(rest)
		v, err := atoCounter(f)
		if err != nil || v > 1<<32-1 {
			return 0, fmt.Errorf("Uid: %q: %w", clipForError(line), ErrMalformed)
		}
		return uint32(v), nil
	}
	return 0, fmt.Errorf("no Uid: line: %w", ErrMalformed)
}

// socketInode returns the inode of a "socket:[12345]" link target, or 0 for any other.
func socketInode(target string) uint64 {
	const prefix, suffix = "socket:[", "]"
	if len(target) <= len(prefix)+len(suffix) || target[:len(prefix)] != prefix || target[len(target)-1] != ']' {
		return 0
	}
	v, err := atoCounter([]byte(target[len(prefix) : len(target)-1]))
	if err != nil {
		return 0
	}
	return v
}

// vanished reports whether err means that the process exited: its /proc directory is
// gone (ENOENT) or going (ESRCH).
func vanished(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH)
}
