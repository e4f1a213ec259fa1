package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestAgreeVnstat runs vnstat's daemon (Debian's package) and wiretop daemon side by side
// on a lab veth for three full 5-minute buckets of iperf3 traffic, and compares their
// 5-minute buckets. It takes about 20 minutes: `make agree-vnstat` runs it (WIRETOP_AGREE=1).
//
// Both count /proc/net/dev. vnstat reads it every UpdateInterval (2 s here, its minimum
// with PollInterval 2), wiretop every second, and each puts a read's delta in the bucket
// of the time of the read: traffic within 2 s of a bucket edge can land on either side.
// The iperf3 runs are placed away from the edges, so the buckets must agree within 1%.
func TestAgreeVnstat(t *testing.T) {
	if os.Getenv("WIRETOP_AGREE") == "" {
		t.Skip("an agreement run of about 20 minutes: make agree-vnstat (WIRETOP_AGREE=1)")
	}
	l := newLab(t, 100)
	requireTool(t, "vnstatd")
	requireTool(t, "iperf3")
	dir := t.TempDir()
	conf := filepath.Join(dir, "vnstat.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`DatabaseDir "%s"
Interface "%s"
UpdateInterval 2
PollInterval 2
SaveInterval 1
OfflineSaveInterval 1
5MinuteHours 48
UseLogging 0
BandwidthDetection 0
MaxBandwidth 10000
AlwaysAddNewInterfaces 0
`, dir, l.hostIf)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("vnstatd", "--config", conf, "--initdb").CombinedOutput(); err != nil {
		t.Fatalf("vnstatd --initdb: %v\n%s", err, out)
	}
	if out, err := exec.Command("vnstat", "--config", conf, "--add", "-i", l.hostIf).CombinedOutput(); err != nil {
		t.Fatalf("vnstat --add: %v\n%s", err, out)
	}
	vn := exec.Command("vnstatd", "-n", "--config", conf)
	vn.Stdout, vn.Stderr = os.Stderr, os.Stderr
	if err := vn.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = vn.Process.Kill(); _ = vn.Wait() })
	db := filepath.Join(dir, "wiretop.db")
	w := startWiretop(t, nil, "daemon", "--db", db, "--no-capture", "-i", l.hostIf, "--interval", "1s")

	l.serve(t, 5301, "iperf3", "-s", "-p", "5301")

	// wait for the next bucket edge, then three buckets with two runs each, 20 s from the edges
	edge := time.Now().Truncate(5 * time.Minute).Add(5 * time.Minute)
	time.Sleep(time.Until(edge))
	rates := []string{"8M", "20M", "40M", "5M", "30M", "12M"}
	for b := 0; b < 3; b++ {
		start := edge.Add(time.Duration(b) * 5 * time.Minute)
		for i, off := range []time.Duration{20 * time.Second, 150 * time.Second} {
			time.Sleep(time.Until(start.Add(off)))
			rate := rates[2*b+i]
			args := []string{"-c", l.nsIP, "-p", "5301", "-t", "60", "-b", rate, "--json"}
			if i == 1 {
				args = append(args, "-R") // the second run of each bucket is received: both directions carry data
			}
			out, err := exec.Command("iperf3", args...).CombinedOutput()
			if err != nil {
				t.Fatalf("iperf3 -b %s: %v\n%s", rate, err, out)
			}
			t.Logf("bucket %s: iperf3 %s for 60 s", start.Format("15:04"), rate)
		}
	}
	end := edge.Add(15 * time.Minute)
	time.Sleep(time.Until(end.Add(10 * time.Second)))
	_ = vn.Process.Signal(syscall.SIGTERM) // it saves on exit
	_ = vn.Wait()
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	w.wait(t, 20*time.Second)

	out, err := exec.Command("vnstat", "--config", conf, "--json", "f", "-i", l.hostIf).Output()
	if err != nil {
		t.Fatalf("vnstat --json f: %v", err)
	}
	var vj struct {
		Interfaces []struct {
			Traffic struct {
				Fiveminute []struct {
					Date   struct{ Year, Month, Day int }
					Time   struct{ Hour, Minute int }
					Rx, Tx uint64
				}
			}
		}
	}
	if err := json.Unmarshal(out, &vj); err != nil || len(vj.Interfaces) != 1 {
		t.Fatalf("vnstat --json f: %v\n%s", err, out)
	}
	vb := map[int64][2]uint64{}
	for _, f := range vj.Interfaces[0].Traffic.Fiveminute {
		ts := time.Date(f.Date.Year, time.Month(f.Date.Month), f.Date.Day, f.Time.Hour, f.Time.Minute, 0, 0, time.Local).Unix()
		vb[ts] = [2]uint64{f.Rx, f.Tx}
	}
	hout, err := exec.Command(wiretopBin, "history", "--db", db, "--5min", "--json", "-i", l.hostIf).Output()
	if err != nil {
		t.Fatalf("wiretop history: %v", err)
	}
	var hj struct {
		Buckets []struct {
			Start            time.Time
			RxBytes, TxBytes uint64 `json:"-"`
			Rx               uint64 `json:"rx_bytes"`
			Tx               uint64 `json:"tx_bytes"`
		}
	}
	if err := json.Unmarshal(hout, &hj); err != nil {
		t.Fatalf("wiretop history --json: %v\n%s", err, hout)
	}
	wb := map[int64][2]uint64{}
	for _, b := range hj.Buckets {
		wb[b.Start.Unix()] = [2]uint64{b.Rx, b.Tx}
	}
	for b := 0; b < 3; b++ {
		ts := edge.Add(time.Duration(b) * 5 * time.Minute).Unix()
		v, w := vb[ts], wb[ts]
		for d, name := range []string{"rx", "tx"} {
			diff := math.Abs(float64(v[d])-float64(w[d])) / math.Max(float64(v[d]), 1)
			t.Logf("bucket %s %s: vnstat %d, wiretop %d bytes (%.3f%%)", time.Unix(ts, 0).Format("15:04"), name, v[d], w[d], 100*diff)
			if v[d] < 10<<20 {
				t.Errorf("bucket %s %s: vnstat counted %d bytes: the traffic did not run", time.Unix(ts, 0).Format("15:04"), name, v[d])
			}
			if diff > 0.01 {
				t.Errorf("bucket %s %s: vnstat %d, wiretop %d bytes: %.2f%% apart, more than 1%%", time.Unix(ts, 0).Format("15:04"), name, v[d], w[d], 100*diff)
			}
		}
	}
}
