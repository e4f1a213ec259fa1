//go:build !linux

package caps

import "errors"

// Cap is one capability.
type Cap int

// The capabilities a running wiretop may keep; they mean nothing off Linux.
const (
	DACReadSearch Cap = iota
	SysPtrace
	DACOverride
)

// Drop does nothing where there are no Linux capabilities.
func Drop(keep ...Cap) (kept string, dropped bool, err error) {
	return "", false, ErrUnsupported
}

// ErrUnsupported is returned where capabilities do not exist.
var ErrUnsupported = errors.ErrUnsupported
