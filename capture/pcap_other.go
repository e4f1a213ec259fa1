//go:build !linux

package capture

import (
	"errors"
	"fmt"
)

// Live capture and libpcap replay are implemented for Linux only.

func openReplay(path, _ string) (handle, error) {
	return nil, fmt.Errorf("replay %s: %w", path, errors.ErrUnsupported)
}

func liveOpener(o Options) (func(int) (handle, error), bool, error) {
	return nil, false, fmt.Errorf("capture on %s: %w", o.Interface, errors.ErrUnsupported)
}

func compileFilter(_ int, expr string) (matcher, error) {
	return nil, fmt.Errorf("filter %q: %w", expr, errors.ErrUnsupported)
}
