package notify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wiretop/wiretop/detect"
)

// deliverer is what a sink does with one transition, on the sink's own goroutine.
type deliverer interface {
	// deliver hands a over; ctx carries the sink's timeout and ends early at Close's deadline.
	deliver(ctx context.Context, a detect.Alert) error
	// tick runs every tickEvery while the sink is idle (the Alertmanager sink re-sends its
	// firing alerts there); nil-op for the others.
	tick(ctx context.Context) error
	close() error
}

// worker is one sink's goroutine and its bounded queue, which drops its oldest entry when a
// transition arrives and it is full.
type worker struct {
	name      string
	d         deliverer
	timeout   time.Duration // one delivery, retries included
	tickEvery time.Duration // 0: no tick
	report    func(error)

	mu      sync.Mutex
	queue   []detect.Alert // a ring of cap entries
	head, n int
	dropped uint64
	sent    uint64
	failed  uint64
	closing bool

	wake   chan struct{} // cap 1: something was queued, or closing
	done   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
}

func newWorker(name string, d deliverer, queueLen int, timeout, tickEvery time.Duration, report func(error)) *worker {
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{
		name: name, d: d, timeout: timeout, tickEvery: tickEvery, report: report,
		queue: make([]detect.Alert, queueLen),
		wake:  make(chan struct{}, 1),
		done:  make(chan struct{}),
		ctx:   ctx, cancel: cancel,
	}
	go w.run()
	return w
}

// push queues a without blocking; when the queue is full the oldest entry is dropped.
func (w *worker) push(a detect.Alert) {
	w.mu.Lock()
	if w.closing {
		w.dropped++
		w.mu.Unlock()
		return
	}
	if w.n == len(w.queue) {
		w.queue[w.head] = detect.Alert{}
		w.head = (w.head + 1) % len(w.queue)
		w.n--
		w.dropped++
	}
	w.queue[(w.head+w.n)%len(w.queue)] = a
	w.n++
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// pop takes the oldest queued transition; ok is false when the queue is empty.
func (w *worker) pop() (a detect.Alert, closing, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n == 0 {
		return a, w.closing, false
	}
	a = w.queue[w.head]
	w.queue[w.head] = detect.Alert{}
	w.head = (w.head + 1) % len(w.queue)
	w.n--
	return a, w.closing, true
}

func (w *worker) run() {
	defer close(w.done)
	var tick <-chan time.Time
	if w.tickEvery > 0 {
		t := time.NewTicker(w.tickEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		if w.ctx.Err() != nil {
			return // Close's deadline passed: what is queued is counted as dropped
		}
		a, closing, ok := w.pop()
		if !ok {
			if closing {
				return
			}
			select {
			case <-w.wake:
			case <-tick:
				w.call(func(ctx context.Context) error { return w.d.tick(ctx) }, false)
			case <-w.ctx.Done():
				return
			}
			continue
		}
		w.call(func(ctx context.Context) error { return w.d.deliver(ctx, a) }, true)
	}
}

// call runs one delivery under the sink's timeout and reports its error.
func (w *worker) call(f func(ctx context.Context) error, count bool) {
	ctx, cancel := context.WithTimeout(w.ctx, w.timeout)
	err := f(ctx)
	cancel()
	w.mu.Lock()
	if count && err == nil {
		w.sent++
	} else if count {
		w.failed++
	}
	w.mu.Unlock()
	if err != nil && w.report != nil {
		w.report(fmt.Errorf("alert sink %s: %w", w.name, err))
	}
}

// stats returns what the sink delivered, failed to deliver and dropped so far.
func (w *worker) stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return Stats{Sink: w.name, Sent: w.sent, Failed: w.failed, Dropped: w.dropped, Queued: w.n}
}

// stop lets the worker deliver what is queued until deadline, then cancels what is under way.
// It returns an error naming the transitions that were not delivered.
func (w *worker) stop(deadline time.Time) error {
	w.mu.Lock()
	w.closing = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	var err error
	select {
	case <-w.done:
	case <-timer.C:
		w.cancel()
		<-w.done
		w.mu.Lock()
		left := w.n
		w.dropped += uint64(w.n)
		w.n = 0
		w.mu.Unlock()
		err = fmt.Errorf("alert sink %s: not flushed by the close deadline: %d transitions dropped", w.name, left)
	}
	w.cancel()
	return errors.Join(err, w.d.close())
}

// Stats counts one sink's transitions.
type Stats struct {
	Sink    string // "log", "exec", "webhook" or "alertmanager"
	Sent    uint64 // transitions delivered
	Failed  uint64 // transitions whose delivery failed (after its retries)
	Dropped uint64 // transitions dropped from a full queue, or left at close
	Queued  int    // transitions waiting now
}
