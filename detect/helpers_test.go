package detect

import (
	"net/netip"
	"time"
)

type netipPrefix = netip.Prefix

func mustAddr(s string) netip.Addr     { return netip.MustParseAddr(s) }
func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// detFunc is a detector from a function, for engine tests.
type detFunc func(v *View, now time.Time, emit func(Finding))

func (f detFunc) Check(v *View, now time.Time, emit func(Finding)) { f(v, now, emit) }
func (f detFunc) params() []param                                  { return nil }
func (f detFunc) clone() Detector                                  { return f }
