//go:build !linux

package capture

import (
	"errors"
	"time"
)

// Flow accounting in the kernel is implemented for Linux only.

type kacct struct{ stats Stats }

func openKacct(string, int) (*kacct, error) { return nil, errors.ErrUnsupported }

func (k *kacct) keepFullBudget() error { return errors.ErrUnsupported }

func (k *kacct) detach() {}
func (k *kacct) close()  {}

func (k *kacct) read(*localSet, time.Duration, func() bool, bool) ([]FlowDelta, FlowDelta, Counter, error) {
	return nil, FlowDelta{}, Counter{}, errors.ErrUnsupported
}

func kacctLinkOK(string) error { return errors.ErrUnsupported }
