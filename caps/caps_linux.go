package caps

import (
	"fmt"
	"strings"

	"kernel.org/pub/linux/libs/security/libcap/cap"
)

// Cap is one capability.
type Cap = cap.Value

// The capabilities a running wiretop may keep (README, "Permissions").
const (
	DACReadSearch = cap.DAC_READ_SEARCH // list other users' /proc/PID/fd (process attribution)
	SysPtrace     = cap.SYS_PTRACE      // read the socket links in other users' /proc/PID/fd
	DACOverride   = cap.DAC_OVERRIDE    // the TUI: write a pcap (key w) wherever the operator asks
)

// Drop reduces the process's capabilities to those of keep that it holds now, on every
// thread: the effective and permitted sets, and (when it may) the bounding set. It returns
// what it kept in cap_to_text form ("cap_dac_read_search,cap_sys_ptrace=ep", or "=" for
// none) and whether anything was dropped. A process that holds nothing beyond keep is left
// alone.
func Drop(keep ...Cap) (kept string, dropped bool, err error) {
	cur := cap.GetProc()
	var held, extra []Cap
	for v := Cap(0); v < cap.MaxBits(); v++ {
		on, err := cur.GetFlag(cap.Permitted, v)
		if err != nil || !on {
			continue
		}
		if contains(keep, v) {
			held = append(held, v)
		} else {
			extra = append(extra, v)
		}
	}
	next := cap.NewSet()
	if err := next.SetFlag(cap.Permitted, true, held...); err != nil {
		return "", false, fmt.Errorf("capabilities: %w", err)
	}
	if err := next.SetFlag(cap.Effective, true, held...); err != nil {
		return "", false, fmt.Errorf("capabilities: %w", err)
	}
	if len(extra) == 0 {
		return next.String(), false, nil
	}
	// The bounding set first: dropping from it needs CAP_SETPCAP, which SetProc gives up.
	if on, _ := cur.GetFlag(cap.Effective, cap.SETPCAP); on {
		var bound []Cap
		for v := Cap(0); v < cap.MaxBits(); v++ {
			if !contains(held, v) {
				bound = append(bound, v)
			}
		}
		if err := cap.DropBound(bound...); err != nil {
			return "", false, fmt.Errorf("capabilities: drop from the bounding set: %w", err)
		}
	}
	if err := next.SetProc(); err != nil {
		return "", false, fmt.Errorf("capabilities: drop %s: %w", names(extra), err)
	}
	return next.String(), true, nil
}

func contains(vs []Cap, v Cap) bool {
	for _, w := range vs {
		if w == v {
			return true
		}
	}
	return false
}

func names(vs []Cap) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = v.String()
	}
	return strings.Join(s, ",")
}
