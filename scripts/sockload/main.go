// Command sockload holds many TCP connections open on loopback, spread over many processes,
// so that the sampler can be measured on a busy host: `sockload -procs 200 -conns 25` makes
// 200 child processes with 25 client sockets each, accepted by the parent (10,000 sockets
// plus the listener). It prints "ready N" when all are connected and holds them until its
// standard input closes or it is signalled.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"
)

func main() {
	procs := flag.Int("procs", 200, "child processes")
	conns := flag.Int("conns", 25, "client connections per child")
	child := flag.String("child", "", "internal: connect to this address")
	flag.Parse()
	if *child != "" {
		os.Exit(runChild(*child, *conns))
	}
	if err := runParent(*procs, *conns); err != nil {
		fmt.Fprintln(os.Stderr, "sockload:", err)
		os.Exit(1)
	}
}

func runChild(addr string, n int) int {
	var keep []net.Conn
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sockload child:", err)
			return 1
		}
		_ = c.(*net.TCPConn).SetLinger(0) // closed by a reset when killed: no TIME-WAIT left behind
		keep = append(keep, c)
	}
	fmt.Println("ok")
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = keep
	return 0
}

func runParent(procs, conns int) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var accepted []net.Conn
	acc := make(chan error, 1)
	go func() {
		for len(accepted) < procs*conns {
			c, err := ln.Accept()
			if err != nil {
				acc <- err
				return
			}
			_ = c.(*net.TCPConn).SetLinger(0)
			accepted = append(accepted, c)
		}
		acc <- nil
	}()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var children []*exec.Cmd
	var stdins []io.WriteCloser
	defer func() {
		for _, in := range stdins {
			in.Close()
		}
		for _, c := range children {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}()
	for i := 0; i < procs; i++ {
		c := exec.Command(self, "-child", ln.Addr().String(), "-conns", fmt.Sprint(conns))
		c.Stderr = os.Stderr
		// The children hold their connections until their stdin closes: keep the write
		// ends, or the garbage collector closes them (and the table empties) minutes later.
		in, err := c.StdinPipe()
		if err != nil {
			return err
		}
		stdins = append(stdins, in)
		out, err := c.StdoutPipe()
		if err != nil {
			return err
		}
		if err := c.Start(); err != nil {
			return err
		}
		children = append(children, c)
		if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ok\n" {
			return fmt.Errorf("child %d did not connect: %q %v", i, line, err)
		}
	}
	if err := <-acc; err != nil {
		return err
	}
	fmt.Printf("ready %d\n", 2*procs*conns+1)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	stdin := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stdin) }()
	select {
	case <-sig:
	case <-stdin:
	}
	runtime.KeepAlive(accepted) // the connections stay open until here
	return nil
}
