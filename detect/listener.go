package detect

import (
	"fmt"
	"time"
)

// newListener: a port listening that was not listening during the learning period at
// the start of the run, with its process.
type newListener struct {
	Learn    time.Duration // the learning period
	UDPBelow int           // UDP sockets count as listeners on ports below this (above: client sockets)

	started bool
	until   time.Time
	known   map[listenKey]bool
}

type listenKey struct {
	proto string
	port  uint16
}

const maxKnownListeners = 1 << 17

func newNewListener() *newListener { return &newListener{Learn: 5 * time.Minute, UDPBelow: 32768} }

func (d *newListener) clone() Detector { return &newListener{Learn: d.Learn, UDPBelow: d.UDPBelow} }

func (d *newListener) params() []param {
	return []param{
		{key: "learn", doc: "the learning period at the start of a run: what listens then is known", ptr: &d.Learn, check: nonNegative(&d.Learn)},
		{key: "udp_below", doc: "UDP sockets bound to ports below this count as listeners (0: none)", ptr: &d.UDPBelow, check: atLeast(&d.UDPBelow, 0)},
	}
}

func (d *newListener) Check(v *View, now time.Time, emit func(Finding)) {
	if !v.Sockets {
		return // a replay has no socket table
	}
	if !d.started {
		d.started, d.until, d.known = true, now.Add(d.Learn), map[listenKey]bool{}
	}
	learning := now.Before(d.until)
	seen := map[listenKey]bool{}
	for _, l := range v.Listeners {
		if l.Proto == "udp" && int(l.Local.Port()) >= d.UDPBelow {
			continue
		}
		k := listenKey{l.Proto, l.Local.Port()}
		if learning {
			if len(d.known) < maxKnownListeners {
				d.known[k] = true
			}
			continue
		}
		if d.known[k] || seen[k] {
			continue
		}
		seen[k] = true
		who := "an unknown process"
		if l.PID != 0 {
			who = fmt.Sprintf("%s (pid %d)", l.Comm, l.PID)
		}
		emit(Finding{Key: fmt.Sprintf("%s/%d", l.Proto, l.Local.Port()), Firing: true, Dst: l.Local.Addr(),
			Summary: fmt.Sprintf("%s listens on %s %s, which was not listening during the learning period", who, l.Proto, l.Local),
			Evidence: map[string]any{"proto": l.Proto, "local": l.Local.String(), "port": int(l.Local.Port()),
				"pid": l.PID, "comm": l.Comm, "learn_s": d.Learn.Seconds()}})
	}
}
