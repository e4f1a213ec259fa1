package notify

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/wiretop/wiretop/detect"
)

// Options choose the sinks; an empty field leaves its sink out.
type Options struct {
	LogPath      string   // the alerts log, JSON Lines appended (created 0600)
	Exec         []string // the exec hook: the program and its arguments (no shell)
	WebhookURL   string   // the webhook in Alertmanager's webhook format
	Alertmanager string   // Alertmanager's base URL; alerts go to its /api/v2/alerts

	Instance     string        // the instance label; default: the hostname
	GeneratorURL string        // the generatorURL of the webhook and API alerts ("" none)
	QueueLen     int           // transitions each sink queues before it drops the oldest; default 256
	Timeout      time.Duration // one delivery, retries included; default 10s
	Backoff      time.Duration // the network sinks' first retry delay, doubled each time; default 500ms
	Resend       time.Duration // Alertmanager: firing alerts are posted again this often; default 1m
	// Report receives each failed delivery (an exec hook's exit status and stderr, an HTTP
	// error after its retries), from the sinks' goroutines. Nil: they are only counted.
	Report func(error)
	Now    func() time.Time // default time.Now
}

// Notifier fans transitions out to the sinks.
type Notifier struct{ workers []*worker }

// New checks the options and starts the sinks they name. A bad URL, a program that is not
// found or a log that cannot be opened is an error, and nothing is started.
func New(o Options) (*Notifier, error) {
	if o.QueueLen <= 0 {
		o.QueueLen = 256
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Backoff <= 0 {
		o.Backoff = 500 * time.Millisecond
	}
	if o.Resend <= 0 {
		o.Resend = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Instance == "" {
		o.Instance, _ = os.Hostname()
	}
	type spec struct {
		name string
		d    deliverer
		tick time.Duration
	}
	var specs []spec
	client := &http.Client{Timeout: o.Timeout}
	if o.WebhookURL != "" {
		u, err := checkURL("--alert-webhook", o.WebhookURL)
		if err != nil {
			return nil, err
		}
		specs = append(specs, spec{"webhook", &webhookSink{&poster{client, u, o.Backoff}, o.Instance, o.GeneratorURL}, 0})
	}
	if o.Alertmanager != "" {
		u, err := checkURL("--alertmanager", o.Alertmanager)
		if err != nil {
			return nil, err
		}
		u = strings.TrimSuffix(u, "/") + "/api/v2/alerts"
		am := &amSink{p: &poster{client, u, o.Backoff}, instance: o.Instance, generatorURL: o.GeneratorURL,
			resend: o.Resend, now: o.Now, firing: map[string]detect.Alert{}}
		specs = append(specs, spec{"alertmanager", am, o.Resend})
	}
	if len(o.Exec) > 0 {
		e, err := newExec(o.Exec)
		if err != nil {
			return nil, err
		}
		specs = append(specs, spec{"exec", e, 0})
	}
	if o.LogPath != "" { // last: the only sink that creates something
		l, err := openLog(o.LogPath)
		if err != nil {
			return nil, err
		}
		specs = append(specs, spec{"log", l, 0})
	}
	n := &Notifier{}
	for _, s := range specs {
		n.workers = append(n.workers, newWorker(s.name, s.d, o.QueueLen, o.Timeout, s.tick, o.Report))
	}
	return n, nil
}

// checkURL accepts an absolute http or https URL.
func checkURL(flag, raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%s %q: %w", flag, raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("%s %q: want an http:// or https:// URL with a host", flag, raw)
	}
	return u.String(), nil
}

// Send queues the transitions for every sink. It never blocks: a sink whose queue is full
// drops its oldest transition and counts it. A nil Notifier ignores them.
func (n *Notifier) Send(changed []detect.Alert) {
	if n == nil {
		return
	}
	for _, a := range changed {
		for _, w := range n.workers {
			if a.State == detect.Pending && (w.name == "webhook" || w.name == "alertmanager") {
				continue // Prometheus sends no pending alerts to Alertmanager either
			}
			w.push(a)
		}
	}
}

// Stats returns each sink's counts, in the order they were started.
func (n *Notifier) Stats() []Stats {
	if n == nil {
		return nil
	}
	out := make([]Stats, len(n.workers))
	for i, w := range n.workers {
		out[i] = w.stats()
	}
	return out
}

// Close delivers what is queued until timeout has passed, then stops the sinks. The error
// names the sinks that could not flush, and the log's close error.
func (n *Notifier) Close(timeout time.Duration) error {
	if n == nil {
		return nil
	}
	deadline := time.Now().Add(timeout)
	errs := make([]error, len(n.workers))
	done := make(chan int)
	for i, w := range n.workers {
		go func() {
			errs[i] = w.stop(deadline)
			done <- i
		}()
	}
	for range n.workers {
		<-done
	}
	return errors.Join(errs...)
}
