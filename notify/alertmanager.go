package notify

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wiretop/wiretop/detect"
)

// WebhookMessage is Alertmanager's webhook payload (version 4), as Alertmanager's
// notify/webhook package posts it to a webhook_config receiver.
type WebhookMessage struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"` // "firing" or "resolved"
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []WebhookAlert    `json:"alerts"`
}

// WebhookAlert is one alert of a WebhookMessage.
type WebhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"` // zero (0001-01-01T00:00:00Z) while firing, as Alertmanager sends it
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// webhookReceiver is the receiver name the webhook's messages carry.
const webhookReceiver = "wiretop"

// Webhook returns the webhook message of one transition: a group of one alert, grouped by
// alertname and key.
func Webhook(a detect.Alert, instance, generatorURL string) WebhookMessage {
	ls := labels(a, instance)
	ann := annotations(a)
	status := "firing"
	var ends time.Time
	if a.State == detect.Resolved {
		status, ends = "resolved", a.Resolved.UTC()
	}
	group := map[string]string{"alertname": a.Rule, "key": a.Key}
	return WebhookMessage{
		Version:           "4",
		GroupKey:          groupKey(group),
		Status:            status,
		Receiver:          webhookReceiver,
		GroupLabels:       group,
		CommonLabels:      ls,
		CommonAnnotations: ann,
		ExternalURL:       generatorURL,
		Alerts: []WebhookAlert{{
			Status: status, Labels: ls, Annotations: ann,
			StartsAt: a.Started.UTC(), EndsAt: ends,
			GeneratorURL: generatorURL, Fingerprint: fingerprint(ls),
		}},
	}
}

// groupKey is written as Alertmanager writes it: the route's matchers, then the group labels.
func groupKey(group map[string]string) string {
	parts := make([]string, 0, len(group))
	for k, v := range group {
		parts = append(parts, fmt.Sprintf("%s=%q", k, v))
	}
	sort.Strings(parts)
	return "{}:{" + strings.Join(parts, ", ") + "}"
}

type webhookSink struct {
	p                      *poster
	instance, generatorURL string
}

func (s *webhookSink) deliver(ctx context.Context, a detect.Alert) error {
	return s.p.post(ctx, Webhook(a, s.instance, s.generatorURL))
}
func (s *webhookSink) tick(context.Context) error { return nil }
func (s *webhookSink) close() error               { return nil }

// PostableAlert is one alert of Alertmanager's POST /api/v2/alerts body.
type PostableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// amSink posts to Alertmanager's API as Prometheus does: each transition when it happens,
// and every firing alert again every resend interval, with endsAt a few intervals ahead (so
// that Alertmanager resolves an alert by itself if wiretop stops), endsAt the resolution
// time once it resolved.
type amSink struct {
	p                      *poster
	instance, generatorURL string
	resend                 time.Duration
	now                    func() time.Time

	mu     sync.Mutex
	firing map[string]detect.Alert // by key
}

func (s *amSink) postable(a detect.Alert) PostableAlert {
	ends := s.now().Add(4 * s.resend)
	if a.State == detect.Resolved {
		ends = a.Resolved
	}
	return PostableAlert{
		Labels: labels(a, s.instance), Annotations: annotations(a),
		StartsAt: a.Started.UTC(), EndsAt: ends.UTC(), GeneratorURL: s.generatorURL,
	}
}

func (s *amSink) deliver(ctx context.Context, a detect.Alert) error {
	s.mu.Lock()
	switch a.State {
	case detect.Firing:
		s.firing[a.Key] = a
	case detect.Resolved:
		delete(s.firing, a.Key)
	default:
		s.mu.Unlock()
		return nil // pending alerts are not sent, as Prometheus does not
	}
	s.mu.Unlock()
	return s.p.post(ctx, []PostableAlert{s.postable(a)})
}

func (s *amSink) tick(ctx context.Context) error {
	s.mu.Lock()
	if len(s.firing) == 0 {
		s.mu.Unlock()
		return nil
	}
	out := make([]PostableAlert, 0, len(s.firing))
	for _, a := range s.firing {
		out = append(out, s.postable(a))
	}
	s.mu.Unlock()
	return s.p.post(ctx, out)
}

func (s *amSink) close() error { return nil }
