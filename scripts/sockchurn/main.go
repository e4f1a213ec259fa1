// Command sockchurn opens and closes TCP connections at a given rate, to measure what socket
// events cost under churn: `sockchurn -serve 127.0.0.1:7400` accepts and closes every
// connection; `sockchurn -connect 127.0.0.1:7400 -rate 10000 -duration 10s` connects at that
// rate (closing each with a reset: no TIME-WAIT left behind) and prints the connections made
// and the rate achieved.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	serve := flag.String("serve", "", "accept and close connections on this address")
	connect := flag.String("connect", "", "connect to this address")
	rate := flag.Int("rate", 10000, "connections per second")
	dur := flag.Duration("duration", 10*time.Second, "how long to connect")
	workers := flag.Int("workers", 16, "connecting goroutines")
	flag.Parse()
	switch {
	case *serve != "":
		if err := runServer(*serve); err != nil {
			fmt.Fprintln(os.Stderr, "sockchurn:", err)
			os.Exit(1)
		}
	case *connect != "":
		runClient(*connect, *rate, *dur, *workers)
	default:
		flag.Usage()
		os.Exit(2)
	}
}

func runServer(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println("listening")
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		_ = c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}
}

func runClient(addr string, rate int, dur time.Duration, workers int) {
	var made, failed atomic.Int64
	gap := time.Duration(int64(time.Second) * int64(workers) / int64(rate))
	start := time.Now()
	end := start.Add(dur)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			next := start.Add(gap * time.Duration(w) / time.Duration(workers))
			for next.Before(end) {
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				next = next.Add(gap)
				c, err := net.Dial("tcp", addr)
				if err != nil {
					failed.Add(1)
					continue
				}
				_ = c.(*net.TCPConn).SetLinger(0)
				c.Close()
				made.Add(1)
			}
		}(w)
	}
	wg.Wait()
	el := time.Since(start)
	fmt.Printf("connections %d failed %d seconds %.2f rate %.0f/s\n", made.Load(), failed.Load(), el.Seconds(), float64(made.Load())/el.Seconds())
}
