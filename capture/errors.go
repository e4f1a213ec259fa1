package capture

import "errors"

// ErrBadFilter is returned (wrapped, with libpcap's message) for a BPF
// expression that libpcap cannot compile.
var ErrBadFilter = errors.New("invalid filter")

// ErrPermission is returned (wrapped) when the capture needs privileges the
// process does not have.
var ErrPermission = errors.New("permission denied: needs CAP_NET_RAW: run as root or setcap cap_net_raw,cap_net_admin=eip")

// ErrNoInterface is returned (wrapped) when the capture interface does not exist.
var ErrNoInterface = errors.New("no such interface")

// ErrBadFile is returned (wrapped, with libpcap's message) for a replay file
// that is not a readable pcap or pcapng file, or that is truncated or damaged.
var ErrBadFile = errors.New("bad capture file")
