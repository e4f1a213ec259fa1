package capture

import (
	"fmt"
	"net"
	"net/netip"
)

// HostAddrs returns the addresses of this host's interfaces (IPv4 and IPv6,
// loopback included, zones dropped), for Options.LocalAddrs and
// Capture.SetLocalAddrs. Call it again when addresses change (DHCP, VPN).
func HostAddrs() ([]netip.Addr, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("host addresses: %w", err)
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		var ip net.IP
		switch v := a.(type) {
		case *net.IPNet:
			ip = v.IP
		case *net.IPAddr:
			ip = v.IP
		}
		if na, ok := netip.AddrFromSlice(ip); ok {
			out = append(out, na.Unmap().WithZone(""))
		}
	}
	return out, nil
}
