package ui

import (
	"time"

	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/detect"
	"github.com/wiretop/wiretop/monitor"
	"github.com/wiretop/wiretop/sampler"
)

// Options configure the TUI.
type Options struct {
	// History is the history database the history pane reads (nil: no pane).
	History HistorySource
	// Baselines say what is usual for this hour of the week (history.Baselines, whose
	// Baseline never waits for the disk); the bandwidth pane shows it. Nil: no baselines.
	Baselines monitor.Baselines
	// Samples is where the sampler sends one Sample per interval. The model reads it on its
	// own; when it is closed, the status line says the sampler stopped. Nil: samples arrive
	// as SampleMsg only.
	Samples <-chan *sampler.Sample
	// Batches is where the capture sends one Batch per interval (nil when capture is off). The
	// model reads it like Samples; the header shows the capture statistics of the latest.
	Batches <-chan *capture.Batch
	// Capture controls the running capture (*capture.Capture satisfies it). Nil means capture
	// is off: the talkers and packets panes are left out and the header says why
	// (CaptureOff). The model calls its methods only from commands, never in Update or View.
	Capture CaptureControl
	// CaptureOff says why capture is off when Capture is nil, for the header: "--no-capture",
	// "not root: no CAP_NET_RAW". Empty: just "capture off".
	CaptureOff string
	// RequestRefresh asks the sampler for an extra socket refresh (sampler.RequestRefresh): the
	// model calls it, without blocking, when captured flows wait for their process.
	RequestRefresh func()
	// Interface is the interface the bandwidth pane shows first and the header names; "all"
	// (monitor.AllInterfaces) is the sum of every interface but loopback. Empty means "all".
	Interface string
	// Status are notes the caller wants in the status line, such as what the sampler cannot
	// see. StatusMsg replaces them.
	Status []string
	// Interval is the sampling interval, for the time axis of the charts. Zero: taken from
	// the samples.
	Interval time.Duration
	// Prefs are the preferences to start with (from LoadPrefs); empty fields take the
	// defaults. The model changes them as the user does.
	Prefs Prefs
	// PrefsPath is the config file where changed preferences are saved (SavePrefs, in a
	// command). Empty: they are not saved.
	PrefsPath string
	// ASCII draws the charts with block elements instead of Braille, for fonts without it.
	ASCII bool
	// OnInterval, when set, runs on the UI goroutine each time an interval closes (a regular
	// sample is applied, or in a replay a batch), after the state has applied it: the caller's
	// pipeline (history, detection, alert sinks) hooks in here. It must not block.
	OnInterval func(st *monitor.State)
	// Alerts, when set, returns the alerts the detectors hold (pending, firing and recently
	// resolved); the model calls it on the UI goroutine after OnInterval, for the alerts pane
	// and the header's count of firing alerts. It must not block. Nil: no alerts pane.
	Alerts func() []detect.Alert
	// Clock returns the wall time, for what the samples do not date (the moment the display
	// was paused, the header before the first sample). Nil: time.Now. Tests fix it.
	Clock func() time.Time
}

// SampleMsg carries one sampler Sample into the model, which applies it to its monitor.State.
type SampleMsg struct{ Sample *sampler.Sample }

// BatchMsg carries one capture Batch into the model.
type BatchMsg struct{ Batch *capture.Batch }

// StatusMsg replaces the caller's notes in the status line (Options.Status).
type StatusMsg struct{ Lines []string }

// AlertsMsg sets the number of firing alerts that the header counts.
type AlertsMsg struct{ Firing int }

// SamplerStoppedMsg tells the model that Options.Samples was closed.
type SamplerStoppedMsg struct{}

// CaptureStoppedMsg tells the model that Options.Batches was closed (the end of a replay, or
// a capture error).
type CaptureStoppedMsg struct{}

// Messages of the model's own: values read from the channels (handling them re-arms the
// reader), and the notices it routes to the panes.
type (
	chanSampleMsg   struct{ Sample *sampler.Sample }
	chanBatchMsg    struct{ Batch *capture.Batch }
	refreshMsg      struct{} // the display resumes after a pause: panes take the latest data
	prefsChangedMsg struct{} // a preference changed: panes redraw
)
