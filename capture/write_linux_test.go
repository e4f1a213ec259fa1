//go:build linux

package capture

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wiretop/wiretop/capture/capturetest"
)

// TestWriteMatched: -w with a packet filter writes exactly the matched
// packets, in a 0600 file that tcpdump and tshark read, and whose replay
// gives the same flows as the original restricted to that filter.
func TestWriteMatched(t *testing.T) {
	needTool(t, "tcpdump")
	needTool(t, "tshark")
	dir := t.TempDir()
	for _, tc := range []struct{ file, expr string }{
		{"mixed-vlan.pcap", "vlan and (tcp port 8080 or udp)"},
		{"any-sll2.pcap", "tcp or icmp"},
		{"ipv6.pcapng", ""}, // everything
	} {
		t.Run(tc.file, func(t *testing.T) {
			src := filepath.Join(pcapDir, tc.file)
			out := filepath.Join(dir, tc.file+".out.pcap")
			res := replay(t, Options{ReplayFile: src, PacketFilter: tc.expr, WriteFile: out}, nil)
			if res.err != nil {
				t.Fatal(res.err)
			}
			fi, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v, want 0600", out, fi.Mode().Perm())
			}
			if got := tcpdumpCount(t, out, ""); got != res.matched || got == 0 {
				t.Errorf("tcpdump reads %d packets from %s, %d matched", got, out, res.matched)
			}
			// The written file replays to the flows of the original with the
			// filter as base filter.
			want := replay(t, Options{ReplayFile: src, BaseFilter: tc.expr}, nil)
			again := replay(t, Options{ReplayFile: out}, nil)
			if again.err != nil {
				t.Fatal(again.err)
			}
			if d := capturetest.Diff(convsOf(want.flows), convsOf(again.flows)); len(d) > 0 {
				t.Errorf("replay of the written file differs:\n%s", strings.Join(d, "\n"))
			}
			if again.packets() != want.packets() || again.other != want.other {
				t.Errorf("written file: %d packets (other %+v), want %d (other %+v)", again.packets(), again.other, want.packets(), want.other)
			}
			tshark, err := capturetest.TsharkConversations(context.Background(), out)
			if err != nil {
				t.Fatalf("tshark on the written file: %v", err)
			}
			if d := capturetest.Diff(tshark, convsOf(again.flows)); len(d) > 0 {
				t.Errorf("tshark disagrees on the written file:\n%s", strings.Join(d, "\n"))
			}
		})
	}
}

// TestStartStopWriting: writing started and stopped while a paced replay
// runs holds what was matched meanwhile; Writing reports it.
func TestStartStopWriting(t *testing.T) {
	needTool(t, "tcpdump")
	src := filepath.Join(pcapDir, "mixed-vlan.pcap")
	out := filepath.Join(t.TempDir(), "mid.pcap")
	c, err := Open(Options{ReplayFile: src, Speed: 20, Interval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ch := make(chan *Batch, 64)
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background(), ch) }()
	var n int
	var written uint64
	for b := range ch {
		n++
		switch n {
		case 3:
			if err := c.StartWriting(out); err != nil {
				t.Fatal(err)
			}
			if err := c.StartWriting(out + "2"); err == nil {
				t.Error("a second StartWriting succeeded")
			}
		case 40:
			path, pk := c.Writing()
			if path != out {
				t.Errorf("Writing() = %q, want %q", path, out)
			}
			if err := c.StopWriting(); err != nil {
				t.Fatal(err)
			}
			written = pk
		}
		if b.Err != nil {
			t.Errorf("batch error: %v", b.Err)
		}
		if n > 40 {
			break
		}
	}
	c.Close()
	<-done
	if path, _ := c.Writing(); path != "" {
		t.Errorf("Writing() = %q after StopWriting", path)
	}
	got := tcpdumpCount(t, out, "")
	total := tcpdumpCount(t, src, "")
	if got == 0 || got >= total || got < written {
		t.Errorf("the file holds %d packets (Writing said %d before stopping), the source %d", got, written, total)
	}
}

// TestWriteError: a failing write (the device is full) stops the writing and
// is reported in Batch.Err; the capture goes on.
func TestWriteError(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	src := filepath.Join(pcapDir, "mixed-vlan.pcap")
	res := replay(t, Options{ReplayFile: src, WriteFile: "/dev/full"}, nil)
	if res.err != nil {
		t.Fatal(res.err)
	}
	var werr error
	for _, b := range res.batches {
		if b.Err != nil {
			werr = b.Err
			break
		}
	}
	if werr == nil || !strings.Contains(werr.Error(), "no space left on device") {
		t.Errorf("batch error %v, want the write error", werr)
	}
	if errors.Is(werr, ErrBadFile) {
		t.Errorf("a write error reported as a bad file: %v", werr)
	}
	if want := tcpdumpCount(t, src, ""); res.packets() != want {
		t.Errorf("accounted %d packets after the write error, want %d", res.packets(), want)
	}
}
