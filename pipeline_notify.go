package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/spf13/pflag"

	"github.com/wiretop/wiretop/detect"
	"github.com/wiretop/wiretop/notify"
)

// AlertsConfig are the alert sinks: the flags, else the [alerts] table of the config file.
type AlertsConfig struct {
	Log     string   `toml:"log"`     // --alerts-log: the alerts log, JSON Lines
	Exec    []string `toml:"exec"`    // --alert-exec: the hook program and its arguments
	Webhook string   `toml:"webhook"` // --alert-webhook: a webhook in Alertmanager's format
	// Alertmanager is [alerts] alertmanager, used when --alertmanager is not given.
	Alertmanager string `toml:"alertmanager"`

	logSet, execSet, webhookSet bool
}

// addAlertFlags declares the sinks' flags (--alertmanager is declared beside the others).
func addAlertFlags(fs *pflag.FlagSet, c *Config) {
	fs.StringVar(&c.Alerts.Log, "alerts-log", "", "append alert transitions to this file, JSON Lines (created 0600)")
	fs.Func("alert-exec", "run this program on each alert transition: `PROG [ARG...]` split at spaces, no shell; the alert in WIRETOP_ALERT_* and as JSON on stdin", func(v string) error {
		c.Alerts.Exec = strings.Fields(v)
		if len(c.Alerts.Exec) == 0 {
			return errors.New("want a program")
		}
		return nil
	})
	fs.StringVar(&c.Alerts.Webhook, "alert-webhook", "", "post alert transitions to this URL in Alertmanager's webhook format (version 4)")
}

// alertFlagsSet records which sink flags were given, so that the config file fills the others.
func alertFlagsSet(fs *pflag.FlagSet, c *Config) {
	c.Alerts.logSet, c.Alerts.execSet, c.Alerts.webhookSet = fs.Changed("alerts-log"), fs.Changed("alert-exec"), fs.Changed("alert-webhook")
}

// loadAlertsConfig reads the [alerts] table of the config file at path (a missing file is
// no table) and returns a with the flags' values kept over the file's.
func loadAlertsConfig(path string, data []byte, a AlertsConfig, alertmanager string) (AlertsConfig, string, error) {
	var file struct {
		Alerts AlertsConfig `toml:"alerts"`
	}
	if data != nil {
		if md, err := toml.Decode(string(data), &file); err != nil {
			return a, alertmanager, fmt.Errorf("%s: [alerts]: %w", path, err)
		} else {
			for _, k := range md.Undecoded() {
				if len(k) == 2 && k[0] == "alerts" {
					return a, alertmanager, fmt.Errorf("%s: [alerts] %s: unknown key (want log, exec, webhook, alertmanager)", path, k[1])
				}
			}
		}
	}
	f := file.Alerts
	if !a.logSet {
		a.Log = f.Log
	}
	if !a.execSet {
		a.Exec = f.Exec
	}
	if !a.webhookSet {
		a.Webhook = f.Webhook
	}
	if alertmanager == "" {
		alertmanager = f.Alertmanager
	}
	return a, alertmanager, nil
}

// notifyStage hands alert transitions to the sinks (log, exec hook, webhook, Alertmanager)
// off the monitor's goroutine (issue 7).
type notifyStage struct {
	n      *notify.Notifier
	stderr bool // headless: sink failures go to stderr as they happen

	mu      sync.Mutex
	lastErr error // the latest sink failure, for the TUI
	errs    int
}

// notifyCloseTimeout bounds how long close waits for the sinks to deliver what is queued.
const notifyCloseTimeout = 5 * time.Second

func openNotifyStage(ctx context.Context, cfg Config) (*notifyStage, []string, error) {
	data, path, note, err := cfg.readConfigFile()
	if err != nil {
		return nil, nil, err
	}
	var notes []string
	if note != "" {
		notes = append(notes, note)
	}
	a, am, err := loadAlertsConfig(path, data, cfg.Alerts, cfg.Alertmanager)
	if err != nil {
		return nil, nil, err
	}
	if a.Log == "" && len(a.Exec) == 0 && a.Webhook == "" && am == "" {
		return nil, notes, nil
	}
	s := &notifyStage{stderr: cfg.Headless}
	s.n, err = notify.New(notify.Options{
		LogPath: a.Log, Exec: a.Exec, WebhookURL: a.Webhook, Alertmanager: am,
		Report: s.report,
	})
	if err != nil {
		return nil, nil, err
	}
	var sinks []string
	for _, st := range s.n.Stats() {
		sinks = append(sinks, st.Sink)
	}
	return s, append(notes, "alerts go to: "+strings.Join(sinks, ", ")), nil
}

func (s *notifyStage) report(err error) {
	s.mu.Lock()
	s.lastErr = err
	s.errs++
	s.mu.Unlock()
	if s.stderr {
		fmt.Fprintln(os.Stderr, "wiretop:", err)
	}
}

// send queues the transitions for every sink; it never blocks.
func (s *notifyStage) send(changed []detect.Alert) {
	if s == nil || len(changed) == 0 {
		return
	}
	s.n.Send(changed)
}

// problem returns the latest sink failure and how many there were ("" when none).
func (s *notifyStage) problem() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.errs == 0 {
		return ""
	}
	return fmt.Sprintf("%d alert deliveries failed, the latest: %v", s.errs, s.lastErr)
}

// close flushes what the sinks hold, for at most notifyCloseTimeout, and reports the
// transitions they dropped.
func (s *notifyStage) close() error {
	if s == nil {
		return nil
	}
	err := s.n.Close(notifyCloseTimeout)
	var dropped []string
	for _, st := range s.n.Stats() {
		if st.Dropped > 0 {
			dropped = append(dropped, fmt.Sprintf("%s dropped %d", st.Sink, st.Dropped))
		}
	}
	if len(dropped) > 0 && err == nil {
		err = fmt.Errorf("alert sinks fell behind: %s", strings.Join(dropped, ", "))
	}
	return err
}
