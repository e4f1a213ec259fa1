// Command histyear writes a generated year of history through history.Store.Record (the
// recorder's own code) and prints the file's size: the figure of docs/history.md. One
// interval per 5-minute bucket stands for the intervals of that bucket (the rows a bucket
// holds do not depend on how many intervals filled it).
//
//	go run ./scripts/histyear -db /tmp/year.db -procs 200 -hosts 200 -ports 200
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/wiretop/wiretop/history"
)

func main() {
	db := flag.String("db", "year.db", "the database to write (must not exist)")
	days := flag.Int("days", 365, "days of history")
	procs := flag.Int("procs", 200, "processes per interval")
	hosts := flag.Int("hosts", 200, "remote hosts per interval")
	ports := flag.Int("ports", 200, "service ports per interval")
	pool := flag.Int("pool", 5, "key population as a multiple of the per-interval count (churn)")
	flag.Parse()
	if _, err := os.Stat(*db); err == nil {
		fmt.Fprintln(os.Stderr, "histyear:", *db, "exists")
		os.Exit(1)
	}
	s, err := history.Open(*db, history.Options{Location: time.UTC, GapAfter: time.Hour}) // 5-minute intervals are not pauses here
	if err != nil {
		fmt.Fprintln(os.Stderr, "histyear:", err)
		os.Exit(1)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	step := 5 * time.Minute
	end := time.Now().UTC().Truncate(step).AddDate(0, 0, -*days)
	n := *days * 24 * 12
	began := time.Now()
	pick := func(dst []history.Usage, count int, name func(i int) history.Usage) []history.Usage {
		dst = dst[:0]
		seen := map[int]bool{}
		for len(dst) < count {
			i := rng.IntN(count * *pool)
			if seen[i] {
				continue
			}
			seen[i] = true
			u := name(i)
			u.Rx, u.Tx = rng.Uint64N(1e8), rng.Uint64N(1e7)
			dst = append(dst, u)
		}
		return dst
	}
	var pu, hu, ou []history.Usage
	for i := 0; i < n; i++ {
		end = end.Add(step)
		iv := &history.Interval{End: end, Elapsed: step}
		iv.Ifaces = []history.IfaceDelta{{Name: "eth0", RxBytes: rng.Uint64N(1e10), TxBytes: rng.Uint64N(1e9), RxPackets: 1e6, TxPackets: 1e5},
			{Name: "lo", RxBytes: 1e6, TxBytes: 1e6}}
		pu = pick(pu, *procs, func(i int) history.Usage {
			return history.Usage{A: fmt.Sprintf("proc%d", i), B: fmt.Sprintf("/usr/bin/proc%d", i), C: "www-data"}
		})
		hu = pick(hu, *hosts, func(i int) history.Usage {
			return history.Usage{A: fmt.Sprintf("198.18.%d.%d", i/250, i%250+1)}
		})
		ou = pick(ou, *ports, func(i int) history.Usage { return history.Usage{A: "tcp", B: fmt.Sprint(1024 + i)} })
		iv.Procs, iv.Hosts, iv.Ports = pu, hu, ou
		iv.TCP = []history.StateCount{{State: "ESTAB", Count: rng.IntN(500)}, {State: "TIME-WAIT", Count: rng.IntN(200)}, {State: "LISTEN", Count: 12}}
		iv.Kernel = []history.Counter{{Name: "ActiveOpens", Value: rng.Uint64N(1000)}, {Name: "PassiveOpens", Value: rng.Uint64N(1000)}}
		if _, err := s.Record(iv); err != nil {
			fmt.Fprintln(os.Stderr, "histyear:", err)
			os.Exit(1)
		}
		if i%(30*288) == 0 {
			fmt.Fprintf(os.Stderr, "day %d of %d, %.1f MB, %s\n", i/288, *days, float64(s.Size())/1e6, time.Since(began).Round(time.Second))
		}
	}
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "histyear:", err)
		os.Exit(1)
	}
	fi, _ := os.Stat(*db)
	fmt.Printf("%d days, %d processes, %d hosts, %d ports per 5 minutes (pool x%d): %s, %.1f MB, written in %s\n",
		*days, *procs, *hosts, *ports, *pool, *db, float64(fi.Size())/1e6, time.Since(began).Round(time.Second))
}
