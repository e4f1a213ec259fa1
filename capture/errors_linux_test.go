//go:build linux

package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestBadBaseFilter(t *testing.T) {
	file := filepath.Join(pcapDir, "mixed-vlan.pcap")
	for expr, msg := range map[string]string{
		"tcp port x":    `invalid filter "tcp port x": unknown port 'x'`,
		"tcp and":       `invalid filter "tcp and": can't parse filter expression: syntax error`,
		"ether proto 0": "", // valid
	} {
		c, err := Open(Options{ReplayFile: file, BaseFilter: expr})
		if msg == "" {
			if err != nil {
				t.Errorf("Open -f %q: %v", expr, err)
			} else {
				c.Close()
			}
			continue
		}
		if !errors.Is(err, ErrBadFilter) {
			t.Errorf("Open -f %q: %v, want ErrBadFilter", expr, err)
			continue
		}
		if err.Error() != msg {
			t.Errorf("Open -f %q: %q, want %q", expr, err, msg)
		}
	}
}

func TestBadPacketFilter(t *testing.T) {
	file := filepath.Join(pcapDir, "mixed-vlan.pcap")
	if _, err := Open(Options{ReplayFile: file, PacketFilter: "udp port 99999"}); !errors.Is(err, ErrBadFilter) {
		t.Errorf("Open with a bad packet filter: %v, want ErrBadFilter", err)
	}
	c, err := Open(Options{ReplayFile: file, PacketFilter: "vlan and udp"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.SetPacketFilter("tcp port x")
	if !errors.Is(err, ErrBadFilter) || err.Error() != `invalid filter "tcp port x": unknown port 'x'` {
		t.Errorf("SetPacketFilter: %v", err)
	}
	if got := c.PacketFilter(); got != "vlan and udp" {
		t.Errorf("after a bad filter, PacketFilter() = %q, want the old one", got)
	}
	res := drive(t, c)
	if want := tcpdumpCount(t, file, "vlan and udp"); res.matched != want {
		t.Errorf("the old filter matched %d packets, tcpdump %d", res.matched, want)
	}
}

func TestNoInterface(t *testing.T) {
	_, err := Open(Options{Interface: "wtnosuch0"})
	if !errors.Is(err, ErrNoInterface) {
		t.Fatalf("Open on a missing interface: %v, want ErrNoInterface", err)
	}
	if want := "capture on wtnosuch0: no such interface"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// TestNoPermission opens a live capture without privileges: as root, in a
// copy of this test binary run as nobody (setpriv).
func TestNoPermission(t *testing.T) {
	if os.Getenv("WIRETOP_CAPTURE_HELPER") == "permission" {
		_, err := Open(Options{Interface: "lo"})
		fmt.Printf("uid=%d err=%v is=%v\n", os.Geteuid(), err, errors.Is(err, ErrPermission))
		return
	}
	if os.Geteuid() != 0 {
		_, err := Open(Options{Interface: "lo"})
		if !errors.Is(err, ErrPermission) {
			t.Fatalf("Open as uid %d: %v, want ErrPermission", os.Geteuid(), err)
		}
		return
	}
	needTool(t, "setpriv")
	dir, err := os.MkdirTemp("", "wiretop-perm-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "capture.test")
	if err := copyFile(os.Args[0], bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin,
		"-test.run=^TestNoPermission$", "-test.count=1")
	cmd.Env = append(os.Environ(), "WIRETOP_CAPTURE_HELPER=permission")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper as nobody: %v\n%s", err, out)
	}
	want := "uid=65534 err=capture on lo: " + ErrPermission.Error()
	t.Logf("as nobody: %s", strings.TrimSpace(strings.Split(string(out), "\n")[0]))
	if !strings.Contains(string(out), want) || !strings.Contains(string(out), "is=true") {
		t.Errorf("helper as nobody printed:\n%s\nwant a line starting %q and is=true", out, want)
	}
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// TestDamagedFiles: a truncated or corrupt capture sends what it could read
// (what tcpdump reads too) and ends with an error wrapping ErrBadFile with
// pcapgo's text; a file that is not a capture fails at Open, with libpcap's
// text.
func TestDamagedFiles(t *testing.T) {
	needTool(t, "tcpdump")
	dir := t.TempDir()
	vlan, err := os.ReadFile(filepath.Join(pcapDir, "mixed-vlan.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	ng, err := os.ReadFile(filepath.Join(pcapDir, "ipv6.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	// A record header whose caplen is absurd, at the 11th record.
	corrupt := append([]byte(nil), vlan...)
	off := 24
	for i := 0; i < 10; i++ {
		off += 16 + int(binary.LittleEndian.Uint32(corrupt[off+8:]))
	}
	binary.LittleEndian.PutUint32(corrupt[off+8:], 0x7fffffff)
	// Cut in the middle of the 11th record's data, and of its header.
	cutData, cutHeader := vlan[:off+16+10], vlan[:off+7]

	for _, tc := range []struct {
		name string
		data []byte
		msg  string // in the error
	}{
		{"cut-in-data.pcap", cutData, "truncated dump file: unexpected end of file"},
		{"cut-in-header.pcap", cutHeader, "truncated dump file: unexpected end of file"},
		{"cut.pcapng", ng[:3000], "truncated dump file: unexpected end of file"},
		{"bad-caplen.pcap", corrupt, "capture length exceeds snap length: 2147483647 > 256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			want := tcpdumpTolerant(t, path)
			if want == 0 {
				t.Fatalf("tcpdump reads nothing from %s: the test proves little", tc.name)
			}
			res := replay(t, Options{ReplayFile: path}, nil)
			if !errors.Is(res.err, ErrBadFile) || !strings.Contains(res.err.Error(), tc.msg) {
				t.Errorf("Run: %v, want ErrBadFile with %q", res.err, tc.msg)
			}
			if got := res.packets(); got != want {
				t.Errorf("accounted %d packets before the damage, tcpdump %d", got, want)
			}
			last := res.batches[len(res.batches)-1]
			if !errors.Is(last.Err, ErrBadFile) {
				t.Errorf("last batch Err = %v, want ErrBadFile", last.Err)
			}
			t.Logf("%v", res.err)
		})
	}

	for name, data := range map[string][]byte{
		"empty.pcap":  nil,
		"text.pcap":   []byte("this is not a capture file, not at all\n"),
		"header.pcap": vlan[:10],
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open(Options{ReplayFile: path})
		if !errors.Is(err, ErrBadFile) {
			t.Errorf("Open %s: %v, want ErrBadFile", name, err)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if _, err := Open(Options{ReplayFile: filepath.Join(dir, "missing.pcap")}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of a missing file: %v, want fs.ErrNotExist", err)
	}
}

// tcpdumpTolerant counts the packets tcpdump reads from a damaged file
// (tcpdump exits 1 after the damage but prints its count).
func tcpdumpTolerant(t *testing.T, path string) uint64 {
	t.Helper()
	out, _ := exec.Command("tcpdump", "--count", "-r", path).Output()
	var n uint64
	if _, err := fmt.Sscanf(string(out), "%d packets", &n); err != nil {
		t.Fatalf("tcpdump --count -r %s printed %q: %v", path, out, err)
	}
	return n
}
