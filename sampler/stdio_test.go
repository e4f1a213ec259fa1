package sampler

import "testing"

// TestResolveStdio: a TCP connection that its owner holds as fd 0 or 1 is flagged, one it
// holds on another fd is not, and neither is a listener on fd 0 (inetd style).
func TestResolveStdio(t *testing.T) {
	root := t.TempDir()
	writeProc(t, root, fakeProc{pid: 10, comm: "bash", start: 1, fds: map[string]string{
		"0": "socket:[501]", "1": "socket:[501]", "2": "socket:[501]", "255": "/dev/pts/0"}})
	writeProc(t, root, fakeProc{pid: 11, comm: "curl", start: 1, fds: map[string]string{
		"0": "/dev/null", "1": "pipe:[9]", "3": "socket:[502]"}})
	writeProc(t, root, fakeProc{pid: 12, comm: "socat", start: 1, fds: map[string]string{
		"0": "/dev/null", "1": "socket:[503]"}})
	writeProc(t, root, fakeProc{pid: 13, comm: "xinetd", start: 1, fds: map[string]string{"0": "socket:[504]"}})
	r, _ := newTestResolver(root)
	s := socks(501, 502, 503, 504)
	for i := range s {
		s[i].Proto, s[i].State = ProtoTCP, StateEstablished
	}
	s[3].State = StateListen
	r.Resolve(s, map[int]*Proc{})
	want := []bool{true, false, true, false}
	for i := range s {
		if s[i].Stdio != want[i] {
			t.Errorf("socket %d (pid %d): Stdio %v, want %v", s[i].Inode, s[i].PID, s[i].Stdio, want[i])
		}
	}
}
