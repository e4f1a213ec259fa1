// Command sockchurn opens and closes TCP connections at a given rate, to measure what socket
// events cost under churn: `sockchurn -serve 127.0.0.1:7400` accepts and closes every
// connection; `sockchurn -connect 127.0.0.1:7400 -rate 10000 -duration 10s` connects at that
// rate (closing each with a reset: no TIME-WAIT left behind) and prints the connections made,
// the attempts that failed (with the first error) and the rate achieved.
//
// Both sides use blocking socket calls on locked OS threads (a connect on loopback completes
// inside the call), not the Go net package: its netpoller costs more per connection than the
// kernel's own handshake, and this machine could not reach 10,000 a second through it.
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	serve := flag.String("serve", "", "accept and close connections on this address (IPv4 ADDR:PORT)")
	connect := flag.String("connect", "", "connect to this address (IPv4 ADDR:PORT)")
	rate := flag.Int("rate", 10000, "connections per second")
	dur := flag.Duration("duration", 10*time.Second, "how long to connect")
	workers := flag.Int("workers", 4, "connecting threads")
	acceptors := flag.Int("acceptors", 2, "accepting threads")
	flag.Parse()
	var err error
	switch {
	case *serve != "":
		err = runServer(*serve, *acceptors)
	case *connect != "":
		err = runClient(*connect, *rate, *dur, *workers)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sockchurn:", err)
		os.Exit(1)
	}
}

func sockaddr(s string) (*unix.SockaddrInet4, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil || !ap.Addr().Is4() {
		return nil, fmt.Errorf("%q: want an IPv4 ADDR:PORT", s)
	}
	return &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}, nil
}

// reset makes close send a RST: nothing is left in TIME-WAIT.
func reset(fd int) {
	_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
}

func runServer(addr string, acceptors int) error {
	sa, err := sockaddr(addr)
	if err != nil {
		return err
	}
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	_ = unix.SetsockoptInt(ln, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.Bind(ln, sa); err != nil {
		return err
	}
	if err := unix.Listen(ln, 65535); err != nil {
		return err
	}
	fmt.Println("listening")
	errc := make(chan error, acceptors)
	for range acceptors {
		go func() {
			runtime.LockOSThread()
			for {
				fd, _, err := unix.Accept4(ln, unix.SOCK_CLOEXEC)
				if err == unix.EINTR || err == unix.ECONNABORTED {
					continue
				}
				if err != nil {
					errc <- err
					return
				}
				reset(fd)
				unix.Close(fd)
			}
		}()
	}
	return <-errc
}

func runClient(addr string, rate int, dur time.Duration, workers int) error {
	sa, err := sockaddr(addr)
	if err != nil {
		return err
	}
	var made, failed atomic.Int64
	var firstErr atomic.Value
	gap := time.Duration(int64(time.Second) * int64(workers) / int64(rate))
	start := time.Now()
	end := start.Add(dur)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			next := start.Add(gap * time.Duration(w) / time.Duration(workers))
			for next.Before(end) {
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				next = next.Add(gap)
				fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
				if err == nil {
					if err = unix.Connect(fd, sa); err == nil {
						reset(fd)
						made.Add(1)
					}
					unix.Close(fd)
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	fmt.Printf("connections %d failed %d seconds %.2f rate %.0f/s", made.Load(), failed.Load(), el.Seconds(), float64(made.Load())/el.Seconds())
	if e := firstErr.Load(); e != nil {
		fmt.Printf(" first error %q", e)
	}
	fmt.Println()
	return nil
}
