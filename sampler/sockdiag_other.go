//go:build !linux

package sampler

import (
	"errors"
	"fmt"
)

// sockDiag holds a NETLINK_INET_DIAG socket and reusable buffers. sock_diag exists only
// on Linux; elsewhere every method fails with errors.ErrUnsupported.
type sockDiag struct{}

// newSockDiag fails with errors.ErrUnsupported: sock_diag exists only on Linux.
func newSockDiag() (*sockDiag, error) {
	return nil, fmt.Errorf("sock_diag: %w", errors.ErrUnsupported)
}

// Dump fails with errors.ErrUnsupported and returns dst unchanged.
func (d *sockDiag) Dump(dst []Socket) ([]Socket, error) {
	return dst, fmt.Errorf("sock_diag dump: %w", errors.ErrUnsupported)
}

// Close does nothing.
func (d *sockDiag) Close() error { return nil }

// useIter does nothing: there is no BPF iterator.
func (d *sockDiag) useIter(t *tcpIter) {}

// iterFailure returns nil.
func (d *sockDiag) iterFailure() error { return nil }

// destroyWatcher receives sock_diag socket-destroy broadcasts; it exists only on Linux.
type destroyWatcher struct{}

// newDestroyWatcher fails with errors.ErrUnsupported: sock_diag exists only on Linux.
func newDestroyWatcher(limit int) (*destroyWatcher, error) {
	return nil, fmt.Errorf("sock_diag destroy events: %w", errors.ErrUnsupported)
}

// Drain returns dst unchanged and no losses.
func (w *destroyWatcher) Drain(dst []Socket) (out []Socket, dropped int) { return dst, 0 }

// Err reports errors.ErrUnsupported.
func (w *destroyWatcher) Err() error {
	return fmt.Errorf("sock_diag destroy events: %w", errors.ErrUnsupported)
}

// Close does nothing.
func (w *destroyWatcher) Close() error { return nil }
