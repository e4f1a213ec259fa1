//go:build !linux

package sampler

import (
	"errors"
	"fmt"
)

// sockEvents reads socket events from BPF programs; it exists only on Linux.
type sockEvents struct{ missing []string }

// newSockEvents fails with errors.ErrUnsupported.
func newSockEvents(idx *OwnerIndex, procRoot string) (*sockEvents, error) {
	return nil, fmt.Errorf("socket events: %w", errors.ErrUnsupported)
}

// Stats returns zeros.
func (e *sockEvents) Stats() (received, lost uint64, err error) { return 0, 0, nil }

// Close does nothing.
func (e *sockEvents) Close() error { return nil }
