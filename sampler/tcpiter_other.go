//go:build !linux

package sampler

import (
	"errors"
	"fmt"
)

// tcpIter is the BPF TCP iterator; it exists only on Linux.
type tcpIter struct{}

// newTCPIter fails with errors.ErrUnsupported.
func newTCPIter() (*tcpIter, error) {
	return nil, fmt.Errorf("tcp iterator: %w", errors.ErrUnsupported)
}

// Close does nothing.
func (t *tcpIter) Close() error { return nil }
