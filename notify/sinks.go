package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/wiretop/wiretop/detect"
)

// logSink appends one JSON line per transition to a file.
type logSink struct{ f *os.File }

func openLog(path string) (*logSink, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("alerts log: %w", err)
	}
	return &logSink{f}, nil
}

func (s *logSink) deliver(_ context.Context, a detect.Alert) error {
	line, err := json.Marshal(Record(a))
	if err != nil {
		return err
	}
	_, err = s.f.Write(append(line, '\n')) // one write: O_APPEND keeps concurrent writers' lines whole
	return err
}

func (s *logSink) tick(context.Context) error { return nil }

func (s *logSink) close() error {
	return errors.Join(s.f.Sync(), s.f.Close())
}

// execSink runs a program per transition: no shell, the alert in the environment and as
// JSON on stdin.
type execSink struct{ argv []string }

func newExec(argv []string) (*execSink, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("alert exec hook: no program given")
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("alert exec hook: %w", err)
	}
	return &execSink{argv: append([]string{path}, argv[1:]...)}, nil
}

// Env returns the WIRETOP_ALERT_* variables of a: RULE, SEVERITY, KEY, SUMMARY, STATE,
// STARTED, RESOLVED (RFC 3339, empty unless resolved) and EVIDENCE (a JSON object).
func Env(a detect.Alert) []string {
	ev, _ := json.Marshal(a.Evidence)
	resolved := ""
	if !a.Resolved.IsZero() {
		resolved = a.Resolved.Format(time.RFC3339Nano)
	}
	return []string{
		"WIRETOP_ALERT_RULE=" + a.Rule,
		"WIRETOP_ALERT_SEVERITY=" + string(a.Severity),
		"WIRETOP_ALERT_KEY=" + a.Key,
		"WIRETOP_ALERT_SUMMARY=" + a.Summary,
		"WIRETOP_ALERT_STATE=" + string(a.State),
		"WIRETOP_ALERT_STARTED=" + a.Started.Format(time.RFC3339Nano),
		"WIRETOP_ALERT_RESOLVED=" + resolved,
		"WIRETOP_ALERT_EVIDENCE=" + string(ev),
	}
}

func (s *execSink) deliver(ctx context.Context, a detect.Alert) error {
	in, err := json.Marshal(Record(a))
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, s.argv[0], s.argv[1:]...)
	cmd.Env = append(os.Environ(), Env(a)...)
	cmd.Stdin = bytes.NewReader(append(in, '\n'))
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = time.Second // a child that keeps stderr open does not hold us past the kill
	err = cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("%s %s: killed after its timeout: %s", s.argv[0], a.Key, stderr.tail())
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", s.argv[0], a.Key, err, stderr.tail())
	}
	return nil
}

func (s *execSink) tick(context.Context) error { return nil }
func (s *execSink) close() error               { return nil }

// limitedBuffer keeps the first 4 KiB written to it (a hook's stderr, for its error).
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 4096 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) tail() string {
	s := strings.TrimSpace(string(l.b))
	if s == "" {
		return "no stderr"
	}
	return "stderr: " + strings.ReplaceAll(s, "\n", " | ")
}

// poster posts JSON, retrying with backoff on network errors, 429 and 5xx answers until ctx
// ends (the sink's timeout).
type poster struct {
	client  *http.Client
	url     string
	backoff time.Duration // before the first retry; doubles after each
}

func (p *poster) post(ctx context.Context, body any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	wait := p.backoff
	for attempt := 1; ; attempt++ {
		err := p.once(ctx, data)
		var perm permanentError
		if err == nil || errors.As(err, &perm) || attempt == 4 {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
		case <-time.After(wait):
		}
		wait *= 2
	}
}

type permanentError struct{ error }

func (p *poster) once(ctx context.Context, data []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(data))
	if err != nil {
		return permanentError{err}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	err = fmt.Errorf("POST %s: %s: %s", p.url, resp.Status, strings.TrimSpace(string(msg)))
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return err
	}
	return permanentError{err}
}

// labels are an alert's Prometheus labels: alertname (the rule), severity, key and instance.
func labels(a detect.Alert, instance string) map[string]string {
	return map[string]string{
		"alertname": a.Rule,
		"severity":  string(a.Severity),
		"key":       a.Key,
		"instance":  instance,
	}
}

// annotations are an alert's summary and its evidence, one annotation per evidence field
// (strings as they are, other values as JSON).
func annotations(a detect.Alert) map[string]string {
	out := map[string]string{"summary": a.Summary}
	for k, v := range a.Evidence {
		if s, ok := v.(string); ok {
			out[k] = s
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			b = []byte(fmt.Sprint(v))
		}
		out[k] = string(b)
	}
	return out
}

// fingerprint is Alertmanager's fingerprint of a label set (prometheus/common model's
// labelSetToFingerprint: FNV-1a 64 over the sorted names and values, each followed by 0xff).
func fingerprint(ls map[string]string) string {
	names := make([]string, 0, len(ls))
	for n := range ls {
		names = append(names, n)
	}
	sort.Strings(names)
	const offset64, prime64 = 14695981039346656037, 1099511628211
	h := uint64(offset64)
	add := func(s string) {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= prime64
		}
		h ^= 0xff
		h *= prime64
	}
	for _, n := range names {
		add(n)
		add(ls[n])
	}
	return fmt.Sprintf("%016x", h)
}
