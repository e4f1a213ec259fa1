// Command benchreplay generates benchmark captures and times wiretop's
// replay accounting on them, until `wiretop -r FILE --headless --speed max`
// does the same through the whole program (scripts/bench-capture.sh).
//
//	benchreplay gen [-n 1000000] [-flows 10000] [-spoof] [-flood SHARE] -o FILE.pcap
//	benchreplay FILE.pcap
//
// The second form replays FILE as fast as possible through capture.Run and
// sums the batches per flow, as monitor.State would; it prints the packets,
// flows and bytes it counted and the time it took.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/capture/internal/pcapgen"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchreplay:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) > 0 && args[0] == "gen" {
		fs := flag.NewFlagSet("gen", flag.ContinueOnError)
		n := fs.Int("n", 1000000, "packets")
		flows := fs.Int("flows", 10000, "distinct flows")
		spoof := fs.Bool("spoof", false, "a random source per packet (every packet a new flow)")
		flood := fs.Float64("flood", 0, "share of packets (0 to 1) that are a spoofed SYN flood to one port")
		out := fs.String("o", "", "output pcap file")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *out == "" {
			return fmt.Errorf("gen: -o FILE is needed")
		}
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		if err := pcapgen.Write(f, pcapgen.Options{Packets: *n, Flows: *flows, Spoof: *spoof, Flood: *flood, Seed: 1}); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	if len(args) != 1 {
		return fmt.Errorf("usage: benchreplay gen [-n N] [-flows N] [-spoof] [-flood SHARE] -o FILE | benchreplay FILE")
	}
	start := time.Now()
	c, err := capture.Open(capture.Options{ReplayFile: args[0]})
	if err != nil {
		return err
	}
	defer c.Close()
	out := make(chan *capture.Batch, 16)
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background(), out); close(out) }()
	totals := map[capture.FlowKey]*capture.FlowDelta{}
	var packets, bytes uint64
	for b := range out {
		for i := range b.Flows {
			f := &b.Flows[i]
			t := totals[f.Key]
			if t == nil {
				t = &capture.FlowDelta{Key: f.Key}
				totals[f.Key] = t
			}
			t.RxBytes += f.RxBytes
			t.TxBytes += f.TxBytes
			t.RxPackets += f.RxPackets
			t.TxPackets += f.TxPackets
			packets += f.Packets()
			bytes += f.Bytes()
		}
		packets += b.Other.Packets + b.Overflow.Packets()
		bytes += b.Other.Bytes + b.Overflow.Bytes()
		b.Release() // as monitor.State.ApplyBatch does: the capture reuses the slice
	}
	if err := <-done; err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Printf("%d packets, %d bytes, %d flows in %v (%.0f packets/s)\n",
		packets, bytes, len(totals), took.Round(time.Millisecond), float64(packets)/took.Seconds())
	return nil
}
