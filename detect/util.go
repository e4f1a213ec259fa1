package detect

import "net/netip"

// secs is the interval's length in seconds (1 when unknown, so that rates stay finite).
func secs(v *View) float64 {
	if v == nil || v.Elapsed <= 0 {
		return 1
	}
	return v.Elapsed.Seconds()
}

// band says whether value trips a rule with firing level fire and clear level
// clearFrac*fire: (true, true) at or above fire, (true, false) in the hysteresis band,
// (false, false) below it.
func band(value, fire, clearFrac float64) (found, firing bool) {
	if value >= fire {
		return true, true
	}
	if value >= fire*clearFrac && clearFrac < 1 {
		return true, false
	}
	return false, false
}

func clearCheck(f *float64) func() string {
	return func() string {
		if *f < 0 || *f > 1 {
			return "must be between 0 and 1 (a fraction of the firing level)"
		}
		return ""
	}
}

// addrText is an address for keys and evidence ("" for an invalid one).
func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.Unmap().String()
}
