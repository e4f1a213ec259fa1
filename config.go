package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/wiretop/wiretop/capture"
)

// Config is everything the command line selects.
type Config struct {
	Command      string // "" (monitor), "daemon", "history", "rules" or "version"
	Interface    string // -i; default: the interface of the default route
	BaseFilter   string // -f, kernel BPF
	PacketFilter string // --packet-filter, user-space BPF
	WriteFile    string // -w
	Interval     time.Duration
	NoCapture    bool
	ReplayFile   string // -r
	Speed        string // --speed 1|10|max
	Headless     bool
	Count        int    // --count: stop after N samples (0: run until interrupted)
	Top          int    // --top: cap processes and talkers per sample (0: all)
	Metrics      string // --metrics ADDR: serve /metrics there ("" off; 127.0.0.1:9813 when given bare)
	MetricsTop   int    // --metrics-top: processes, hosts and ports exported (a sticky top N)
	DB           string // --db: the history database ("" off once dbSet; default path otherwise)
	Alertmanager string // --alertmanager URL: post alerts to this Alertmanager's /api/v2/alerts
	RulesPath    string // --rules: the detection rules file (default: the config file's rules)
	JSON         bool   // daemon --json: print the JSON Lines of --headless too
	ConfigPath   string
	ProcRoot     string // --proc-root, for tests and containers
	CPUProfile   string // --cpuprofile: write a Go CPU profile of the run (docs/bench.md)
	MemProfile   string // --memprofile: write a Go heap profile at the end of the run
	NoNetlink    bool   // --no-netlink: read sockets from /proc/net (no byte counters)
	NoBPF        bool   // --no-bpf: TCP sockets from sock_diag, not the BPF iterator; no socket events
	NoSockEvents bool   // --no-sock-events: processes through /proc/PID/fd only
	BufferKiB    int    // -B: the kernel capture buffer in KiB, as tcpdump's -B
	MaxFlows     int    // --max-flows: the flow table's bound
	Accounting   string // --flows: where flows are counted: auto, ebpf or libpcap
	FullBudget   bool   // --kernel-full-budget: the kernel's full budget of new flows under a flood too

	ASCII bool // --ascii: charts without Braille

	History HistoryConfig // wiretop history's flags
	Rules   RulesConfig   // wiretop rules' flags
	Alerts  AlertsConfig  // the alert sinks: --alerts-log, --alert-exec, --alert-webhook

	speed           float64 // --speed as a factor; 0 is as fast as possible
	dbSet           bool    // --db was given (even as ''); else the default path applies
	intervalSet     bool    // --interval was given (else the config file's interval applies)
	packetFilterSet bool    // --packet-filter was given (else the config file's applies)
}

// defaultMetricsAddr is where a bare --metrics serves: loopback only (never 0.0.0.0 unless
// asked), on the port registered for wiretop's exporter.
const defaultMetricsAddr = "127.0.0.1:9813"

// minInterval is the shortest sampling interval.
const minInterval = 10 * time.Millisecond

// maxBufferKiB (1 GiB) and maxFlows (about 640 MB of flow table) bound -B and --max-flows.
const (
	maxBufferKiB = 1 << 20
	maxFlows     = 1 << 22
)

const usageHead = `wiretop: a terminal network monitor (bandwidth, TCP states, processes, packets)

Usage:
  wiretop [-i IFACE] [-f BPF] [--packet-filter BPF] [-w FILE.pcap] [--interval 1s] [--no-capture]
          [-r FILE.pcap [--speed 1|10|max]] [--headless [--count N] [--top N]]
          [--metrics [ADDR]] [--db PATH] [--config PATH] [--alertmanager URL] [--rules PATH]
          [--alerts-log PATH] [--alert-exec PROG] [--alert-webhook URL]
  wiretop daemon [the same flags] [--json]      record history, detect, alert, serve metrics; no TUI
  wiretop history [--help]                      reports from the history database, like vnstat
  wiretop rules [--help]                        the detection rules in force, and where each came from
  wiretop version

Flags:
`

// parseArgs turns the command line into a Config. It returns pflag.ErrHelp after printing
// the help for -h/--help.
func parseArgs(args []string, stderr io.Writer) (Config, error) {
	var c Config
	if len(args) > 0 {
		switch args[0] {
		case "version":
			c.Command = "version"
			return c, nil
		case "history":
			c.Command = "history"
			h, err := parseHistoryArgs(args[1:], stderr)
			c.History = h
			return c, err
		case "rules":
			c.Command = "rules"
			r, err := parseRulesArgs(args[1:], stderr)
			c.Rules = r
			return c, err
		case "daemon":
			c.Command = "daemon"
			args = args[1:]
		}
	}
	fs := pflag.NewFlagSet("wiretop", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageHead)
		fmt.Fprint(stderr, fs.FlagUsages())
	}
	fs.StringVarP(&c.Interface, "interface", "i", "", "interface to watch and capture on (default: the default route's; \"any\" for all)")
	fs.StringVarP(&c.BaseFilter, "filter", "f", "", "base capture filter, a BPF expression run in the kernel")
	fs.StringVar(&c.PacketFilter, "packet-filter", "", "packet view filter at start-up, a BPF expression run in user space")
	fs.StringVarP(&c.WriteFile, "write", "w", "", "write the packets that match the packet filter to this pcap file")
	fs.DurationVar(&c.Interval, "interval", time.Second, "sampling interval")
	fs.BoolVar(&c.NoCapture, "no-capture", false, "do not capture packets: kernel counters and tcp_info only (no root needed)")
	fs.StringVarP(&c.ReplayFile, "read", "r", "", "replay a pcap or pcapng file instead of capturing live")
	fs.StringVar(&c.Speed, "speed", "1", "replay speed: 1, 10, ... or max")
	fs.BoolVar(&c.Headless, "headless", false, "no terminal UI: print JSON Lines on stdout")
	fs.IntVar(&c.Count, "count", 0, "headless: stop after N samples (0: until interrupted)")
	fs.IntVar(&c.Top, "top", 20, "headless: processes and talkers per sample (0: all)")
	fs.StringVar(&c.Metrics, "metrics", "", "serve Prometheus metrics on this address (bare --metrics: "+defaultMetricsAddr+")")
	fs.Lookup("metrics").NoOptDefVal = defaultMetricsAddr
	fs.IntVar(&c.MetricsTop, "metrics-top", 50, "metrics: processes, remote hosts and ports exported (a sticky top N by the last hour's bytes)")
	fs.StringVar(&c.DB, "db", "", "history database (default /var/lib/wiretop/wiretop.db as root, else $XDG_STATE_HOME/wiretop/wiretop.db; '' records nothing)")
	fs.StringVar(&c.Alertmanager, "alertmanager", "", "post alerts to this Alertmanager (its base URL, e.g. http://127.0.0.1:9093)")
	addAlertFlags(fs, &c)
	fs.StringVar(&c.RulesPath, "rules", "", "detection rules file, TOML (default: the [rules] of the config file)")
	if c.Command == "daemon" {
		fs.BoolVar(&c.JSON, "json", false, "also print the JSON Lines that --headless prints")
	}
	fs.StringVar(&c.ConfigPath, "config", "", "preferences file (default ~/.config/wiretop/config.toml)")
	fs.BoolVar(&c.ASCII, "ascii", false, "draw charts without Braille characters, for fonts that lack them")
	fs.StringVar(&c.ProcRoot, "proc-root", "/proc", "where procfs is mounted")
	fs.BoolVar(&c.NoNetlink, "no-netlink", false, "read sockets from /proc/net instead of sock_diag (no per-process bytes)")
	fs.BoolVar(&c.NoBPF, "no-bpf", false, "load no BPF program even as root: TCP sockets from sock_diag (not the faster BPF iterator), processes through /proc/PID/fd (not socket events)")
	fs.BoolVar(&c.NoSockEvents, "no-sock-events", false, "find processes through /proc/PID/fd only, without BPF socket events (which catch connections that close between two samples)")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a Go CPU profile of the run to this file")
	fs.StringVar(&c.MemProfile, "memprofile", "", "write a Go heap profile (in use at the end, and allocated over the run) to this file")
	fs.IntVarP(&c.BufferKiB, "buffer-size", "B", capture.DefaultBufferSize>>10, "live capture: the kernel buffer in KiB, as tcpdump's -B (raise it if the header shows drops)")
	fs.IntVar(&c.MaxFlows, "max-flows", capture.DefaultFlowCap, "flows the capture's table holds (about 160 bytes each); later flows are counted in an overflow row")
	fs.StringVar(&c.Accounting, "flows", "auto", "where live capture counts flows: ebpf (a tc program in the kernel), libpcap (from captured packets), or auto (headless and daemon: ebpf when it loads, else libpcap; the TUI: libpcap, its packets pane reads every packet)")
	fs.BoolVar(&c.FullBudget, "kernel-full-budget", false, "flows counted in the kernel: keep the full budget of new flows an interval (max-flows/8) under a SYN flood too, as before it adapted (for tests and benchmarks)")
	_ = fs.MarkHidden("kernel-full-budget")
	_ = fs.MarkHidden("proc-root")
	_ = fs.MarkHidden("cpuprofile")
	_ = fs.MarkHidden("memprofile")
	if err := fs.Parse(joinOptionalValues(args, "--metrics")); err != nil {
		return c, err
	}
	c.intervalSet, c.packetFilterSet, c.dbSet = fs.Changed("interval"), fs.Changed("packet-filter"), fs.Changed("db")
	alertFlagsSet(fs, &c)
	if c.Command == "daemon" {
		if c.Headless {
			return c, errors.New("daemon runs headless already: use --json for its JSON Lines, not --headless")
		}
		c.Headless = true
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (see wiretop --help)", fs.Arg(0))
	}
	if c.Interval < minInterval {
		return c, fmt.Errorf("--interval %v: must be at least 10ms", c.Interval)
	}
	switch c.Accounting {
	case "auto", "ebpf", "libpcap":
	default:
		return c, fmt.Errorf("--flows %q: auto, ebpf or libpcap", c.Accounting)
	}
	if c.Count < 0 || c.Top < 0 {
		return c, errors.New("--count and --top take a number >= 0")
	}
	if c.ReplayFile != "" {
		switch {
		case c.NoCapture:
			return c, errors.New("-r replays packets: it cannot go with --no-capture")
		case c.Interface != "":
			return c, errors.New("-r replays a file: it cannot go with -i")
		}
	} else if fs.Changed("speed") {
		return c, errors.New("--speed paces a replay: it goes with -r")
	}
	if c.NoCapture {
		for flag, v := range map[string]string{"-f": c.BaseFilter, "--packet-filter": c.PacketFilter, "-w": c.WriteFile} {
			if v != "" {
				return c, fmt.Errorf("%s needs packet capture: it cannot go with --no-capture", flag)
			}
		}
		for _, flag := range []string{"buffer-size", "max-flows"} {
			if fs.Changed(flag) {
				return c, fmt.Errorf("--%s sizes packet capture: it cannot go with --no-capture", flag)
			}
		}
	}
	if fs.Changed("buffer-size") && c.ReplayFile != "" {
		return c, errors.New("--buffer-size (-B) sizes the kernel buffer of a live capture: it cannot go with -r")
	}
	if c.BufferKiB < 1 || c.BufferKiB > maxBufferKiB {
		return c, fmt.Errorf("--buffer-size %d: want 1 to %d KiB (1 GiB)", c.BufferKiB, maxBufferKiB)
	}
	if c.MaxFlows < 1 || c.MaxFlows > maxFlows {
		return c, fmt.Errorf("--max-flows %d: want 1 to %d", c.MaxFlows, maxFlows)
	}
	sp, err := parseSpeed(c.Speed)
	if err != nil {
		return c, err
	}
	c.speed = sp
	return c, nil
}

// joinOptionalValues lets a flag with an optional value (NoOptDefVal) take it as the next
// argument too, "--metrics 127.0.0.1:9813" as well as "--metrics=..." and a bare "--metrics":
// wiretop takes no positional arguments, so a word that follows such a flag is its value.
func joinOptionalValues(args []string, flags ...string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if slices.Contains(flags, a) && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			out = append(out, a+"="+args[i+1])
			i++
			continue
		}
		out = append(out, a)
	}
	return out
}

// parseSpeed reads --speed: "max" (0: as fast as possible) or a factor > 0 ("1", "10", "0.5").
func parseSpeed(s string) (float64, error) {
	if s == "max" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("--speed %q: want max or a number > 0 (1 is real time)", s)
	}
	return f, nil
}

// prefsPath is the preferences file: --config, or ~/.config/wiretop/config.toml (under
// $XDG_CONFIG_HOME when it is set). "" when there is no home to put it in.
func (c *Config) prefsPath() string {
	if c.ConfigPath != "" {
		return c.ConfigPath
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "wiretop", "config.toml")
}

// resolve fills defaults that need the system (the default-route interface) and checks
// what the flags name exists.
func (c *Config) resolve() error {
	if c.ReplayFile != "" {
		return nil // the file is the source: no interface, no sampler
	}
	if c.Interface == "" {
		c.Interface = defaultRouteInterface(filepath.Join(c.ProcRoot, "net", "route"))
	}
	if c.Interface != "" && c.Interface != "any" && c.ProcRoot == "/proc" {
		if _, err := net.InterfaceByName(c.Interface); err != nil {
			return fmt.Errorf("interface %q: no such interface", c.Interface)
		}
	}
	return nil
}

// defaultRouteInterface returns the interface of the IPv4 default route with the lowest
// metric from a /proc/net/route file, or "" when there is none.
func defaultRouteInterface(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	best, bestMetric := "", -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 || fields[1] != "00000000" || fields[7] != "00000000" {
			continue
		}
		var metric int
		if _, err := fmt.Sscan(fields[6], &metric); err != nil {
			continue
		}
		if bestMetric < 0 || metric < bestMetric {
			best, bestMetric = fields[0], metric
		}
	}
	return best
}

// readConfigFile returns the config file's bytes (nil when there is none) and its path.
// A missing file is no file. A default file (no --config) that cannot be read is not
// fatal either: it returns a note for the status line and the defaults stand, as
// the TUI does with its preferences; a file named with --config must be readable.
func (c *Config) readConfigFile() (data []byte, path, note string, err error) {
	path = c.prefsPath()
	if path == "" {
		return nil, "", "", nil
	}
	data, err = os.ReadFile(path)
	switch {
	case err == nil:
		return data, path, "", nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, path, "", nil
	case c.ConfigPath == "":
		return nil, path, fmt.Sprintf("config file not read (%v): defaults in use", err), nil
	default:
		return nil, path, "", fmt.Errorf("read config: %w", err)
	}
}
