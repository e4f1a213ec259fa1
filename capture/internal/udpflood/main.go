//go:build linux

// Command udpflood sends 60-byte UDP frames (18 bytes of payload) out of an interface at a
// fixed rate, for scripts/bench-capture-live.sh: a packet socket hands prebuilt Ethernet
// frames to the device with sendmmsg in batches of 64, bypassing the sender's IP stack and
// qdisc, so that the sender costs little and the rate holds on a small machine.
//
//	udpflood -i IFACE -src IP -dst IP -dmac MAC [-rate PPS] [-t SECONDS] [-flows N]
//
// -rate 0 sends as fast as it can. -flows N cycles the source port over N values (N flows).
// It prints the number of frames sent, the rate reached and its CPU time (user and system:
// with tick-based accounting the softirq work its frames cause on its CPU, up to the
// receiving side's IP layer, is charged to it).
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const batch = 64

// mmsghdr is struct mmsghdr of sendmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "udpflood:", err)
		os.Exit(1)
	}
}

func run() error {
	iface := flag.String("i", "", "interface to send on")
	src := flag.String("src", "", "source IPv4 address")
	dst := flag.String("dst", "", "destination IPv4 address")
	dmacS := flag.String("dmac", "", "destination MAC address")
	rate := flag.Float64("rate", 400000, "frames per second (0: as fast as possible)")
	secs := flag.Float64("t", 6, "seconds to send")
	flows := flag.Int("flows", 1, "source ports to cycle through")
	flag.Parse()
	ifi, err := net.InterfaceByName(*iface)
	if err != nil {
		return err
	}
	sa, err := netip.ParseAddr(*src)
	if err != nil {
		return err
	}
	da, err := netip.ParseAddr(*dst)
	if err != nil {
		return err
	}
	dmac, err := net.ParseMAC(*dmacS)
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1); err != nil {
		return err
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
		return err
	}
	n := max(*flows, 1)
	frames := make([][60]byte, batch)
	for i := range frames {
		frame(&frames[i], dmac, ifi.HardwareAddr, sa.As4(), da.As4(), uint16(40000+i%n))
	}
	iov := make([]unix.Iovec, batch)
	msgs := make([]mmsghdr, batch)
	for i := range msgs {
		iov[i].Base = &frames[i][0]
		iov[i].SetLen(60)
		msgs[i].hdr.Iov = &iov[i]
		msgs[i].hdr.Iovlen = 1
	}
	var sent uint64
	start := time.Now()
	end := start.Add(time.Duration(*secs * float64(time.Second)))
	for {
		now := time.Now()
		if !now.Before(end) {
			break
		}
		if *rate > 0 {
			due := start.Add(time.Duration(float64(sent) / *rate * float64(time.Second)))
			if d := due.Sub(now); d > 0 {
				time.Sleep(d)
			}
		}
		if n > batch {
			// more flows than frames: rewrite the source ports of this batch
			for i := range frames {
				setSport(&frames[i], uint16(40000+int(sent+uint64(i))%n))
			}
		}
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), batch, 0, 0, 0)
		if errno != 0 && errno != unix.ENOBUFS && errno != unix.EAGAIN {
			return errno
		}
		sent += uint64(r)
	}
	el := time.Since(start).Seconds()
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	fmt.Printf("%d frames in %.2f s: %.0f frames/s, %.3f s of CPU\n", sent, el, float64(sent)/el, cpu)
	return nil
}

// frame writes a 60-byte Ethernet/IPv4/UDP frame with 18 bytes of zero payload.
func frame(f *[60]byte, dmac, smac net.HardwareAddr, src, dst [4]byte, sport uint16) {
	copy(f[0:6], dmac)
	copy(f[6:12], smac)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], 46) // 20 + 8 + 18
	ip[8] = 64
	ip[9] = 17
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	udp := f[34:42]
	binary.BigEndian.PutUint16(udp[2:], 9) // discard
	binary.BigEndian.PutUint16(udp[4:], 26)
	setSport(f, sport) // UDP checksum 0: none (IPv4)
}

func setSport(f *[60]byte, sport uint16) { binary.BigEndian.PutUint16(f[34:], sport) }
