//go:build !linux

package capture

import (
	"errors"
	"fmt"
)

// Live capture and libpcap replay are implemented for Linux only.

func openReplayLibpcap(path string) (handle, error) {
	return nil, fmt.Errorf("%w: %s: not a pcap or pcapng file pcapgo can read (libpcap: %w)", ErrBadFile, path, errors.ErrUnsupported)
}

func liveOpener(o Options) (func(int) (handle, error), bool, error) {
	return nil, false, fmt.Errorf("capture on %s: %w", o.Interface, errors.ErrUnsupported)
}

func compileFilter(_ int, expr string) (matcher, error) {
	return nil, fmt.Errorf("filter %q: %w", expr, errors.ErrUnsupported)
}
