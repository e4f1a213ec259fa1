// Command wiretop is a Linux terminal network monitor: live bandwidth, TCP states,
// per-process traffic and packets on one screen, or JSON Lines when run headless.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	cfg, err := parseArgs(os.Args[1:], os.Stderr)
	if errors.Is(err, pflag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wiretop:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		stop()
		fmt.Fprintln(os.Stderr, "wiretop:", err)
		os.Exit(1)
	}
}

// run executes the mode cfg selects and returns when it is done.
func run(ctx context.Context, cfg Config, stdout io.Writer) error {
	switch cfg.Command {
	case "version":
		_, err := fmt.Fprintf(stdout, "wiretop %s\n", version)
		return err
	case "history":
		return runHistory(ctx, cfg, stdout)
	case "rules":
		return runRules(ctx, cfg, stdout)
	}
	if err := cfg.resolve(); err != nil {
		return err
	}
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if cfg.MemProfile != "" {
		f, err := os.Create(cfg.MemProfile)
		if err != nil {
			return fmt.Errorf("memory profile: %w", err)
		}
		defer func() {
			runtime.GC() // the in-use figures are those of the last collection
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}()
	}
	if cfg.Command == "daemon" && !cfg.JSON {
		stdout = io.Discard // a daemon records, detects and serves; it prints JSON only when asked
	}
	if cfg.Headless {
		return runHeadless(ctx, cfg, stdout)
	}
	return runTUI(ctx, cfg)
}
