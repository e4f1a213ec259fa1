package detect

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"net/netip"

	"github.com/wiretop/wiretop/capture"
)

// facts is an interval's flow facts as the detectors that keep tables keyed by addresses
// (syn_flood, port_scan, brute_force) read them: each fact classified, with the hashes of
// its addresses and its ports, in 24 bytes (a monitor.FlowFact is 192).
//
// Under a spoofed flood every fact has a fresh source and each of these detectors looks it
// up in a full table. The engine reads the facts once per interval for all of them
// (Engine.Eval builds its facts before the rules run); a detector reads info[i] and turns
// to v.Flows[i] only for a fact that its table may hold or take, a few in a hundred. The
// facts were the cost: 12 MB read again by each detector. A detector that runs outside an
// engine builds its own.
type facts struct {
	of   *View      // the view they are of; nil outside an Eval
	info []factInfo // one for each v.Flows[i]
}

// factInfo is one flow fact for the detectors.
type factInfo struct {
	remote, local         uint64 // addrHash of Key.Remote's and Key.Local's address
	remotePort, localPort uint16
	kind                  factKind
}

// factKind says which detectors a fact concerns.
type factKind uint8

const (
	kindHalfOpen    factKind = 1 << iota // an inbound SYN not acknowledged, not refused (syn_flood)
	kindSynAcked                         // and answered by a SYN-ACK
	kindFailedIn                         // a failed attempt inbound (port_scan; failed)
	kindFailedOut                        // outbound
	kindAcceptedIn                       // an accepted connection inbound (brute_force; accepted)
	kindAcceptedOut                      // outbound
	kindAggregate                        // an aggregate row (FlowFact.Flows > 0): its remote is no source
)

// factReader is a detector that reads the flow facts: the engine shares its facts with it.
type factReader interface {
	shareFacts(*facts)
}

// build reads v's flow facts.
func (fs *facts) build(v *View) {
	fs.of = v
	if cap(fs.info) < len(v.Flows) {
		fs.info = make([]factInfo, len(v.Flows))
	}
	fs.info = fs.info[:len(v.Flows)]
	var last netip.Addr // this host's addresses are few: the previous local address's hash is reused
	var lastHash uint64
	for i := range v.Flows {
		f := &v.Flows[i]
		fi := &fs.info[i]
		fi.remote = addrHash(f.Key.Remote.Addr())
		if a := f.Key.Local.Addr(); i == 0 || a != last {
			last, lastHash = a, addrHash(a)
		}
		fi.local = lastHash
		fi.remotePort, fi.localPort = f.Key.Remote.Port(), f.Key.Local.Port()
		fi.kind = 0
		if halfOpen(f) {
			fi.kind |= kindHalfOpen
			if f.Handshake&capture.HsSynAckOut != 0 {
				fi.kind |= kindSynAcked
			}
		}
		if f.Flows > 0 {
			fi.kind |= kindAggregate
			continue // an aggregate row (capture.FlowDelta.Flows): its remote is no source
		}
		if ok, out, _ := failed(f); ok {
			fi.kind |= kindFailedIn
			if out {
				fi.kind ^= kindFailedIn | kindFailedOut
			}
		}
		if ok, out, _ := accepted(f); ok {
			fi.kind |= kindAcceptedIn
			if out {
				fi.kind ^= kindAcceptedIn | kindAcceptedOut
			}
		}
	}
}

// factsOf returns the hashes of v's facts: shared's when the engine built them for v, else
// own's, built now.
func factsOf(v *View, shared *facts, own **facts) *facts {
	if shared != nil && shared.of == v {
		return shared
	}
	if *own == nil {
		*own = &facts{}
	}
	(*own).build(v)
	return *own
}

// hashSeed seeds the hashes, at random per process, so that an attacker who chooses the
// source addresses cannot choose collisions in the detectors' tables.
var hashSeed = rand.Uint64()

// mix is wyhash's mixing step.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a^0xa0761d6478bd642f, b^0xe7037ed1a0b428db)
	return hi ^ lo
}

// addrHash is the hash of address a. The zone is left out (addresses that differ only in
// it collide, and the tables' comparisons tell them apart), and so is the kind: an IPv4
// address and its IPv4-mapped IPv6 form collide too.
//
// An IPv4 address is read with As4: As16 costs about 7 ns more on amd64, where its result
// is written as two 8-byte halves and copied as one 16-byte value, which the CPU cannot
// forward from the two stores.
func addrHash(a netip.Addr) uint64 {
	if a.Is4() {
		b := a.As4()
		return mix(mix(hashSeed, 0xffff<<32|uint64(binary.BigEndian.Uint32(b[:]))), hashSeed)
	}
	b := a.As16()
	return mix(mix(hashSeed^binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])), hashSeed)
}

// outbound is mixed into the hash of the key of an outbound pair.
const outbound = 0x9e3779b97f4a7c15

// pairHash is the hash of a source/target key from the hashes of its two ends (the target
// may have a port mixed in).
func pairHash(out bool, src, dst uint64) uint64 {
	if out {
		src ^= outbound
	}
	return mix(src, dst)
}

// portHash is the hash of an address and port from the address's hash h.
func portHash(h uint64, port uint16) uint64 { return h ^ uint64(port)*outbound }
