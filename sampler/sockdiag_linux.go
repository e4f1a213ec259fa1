package sampler

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sockDiagBufSize is the size of the receive buffer of a sock_diag socket. The kernel
// fills one netlink dump datagram up to about 32 KiB (netlink_recvmsg caps
// max_recvmsg_len at SKB_WITH_OVERHEAD(32768)), so a datagram always fits.
const sockDiagBufSize = 64 << 10

// sockDiagRecvTimeout bounds a receive on the dump socket so that a kernel that never
// answers cannot hang the sampler.
const sockDiagRecvTimeout = 5 // seconds

// sockDiag holds a NETLINK_INET_DIAG socket and reusable buffers. It is not safe for
// concurrent use: one goroutine dumps.
type sockDiag struct {
	fd  int    // the netlink socket; -1 after an error until the next Dump redials
	seq uint32 // sequence number of the last request
	buf []byte // receive buffer, reused across dumps
	req []byte // request buffer, reused across dumps

	noCompat bool // the kernel refused TCPDIAG_GETSOCK: TCP is dumped per address family

	iter    *tcpIter // when set, TCP comes from the BPF iterator instead of the dump
	iterErr error    // why the iterator was dropped, until iterFailure reads it
}

// useIter makes Dump read TCP from t. If t fails, Dump closes it, dumps TCP with
// sock_diag from then on, and iterFailure reports why.
func (d *sockDiag) useIter(t *tcpIter) { d.iter = t }

// iterFailure returns, once, the error that made Dump drop the BPF iterator.
func (d *sockDiag) iterFailure() error {
	err := d.iterErr
	d.iterErr = nil
	return err
}

// newSockDiag opens a NETLINK_INET_DIAG socket. It needs no privilege.
func newSockDiag() (*sockDiag, error) {
	fd, err := dialSockDiag()
	if err != nil {
		return nil, err
	}
	return &sockDiag{fd: fd, buf: make([]byte, sockDiagBufSize), req: make([]byte, 0, nlmsgHdrLen+max(inetDiagReqV2Len, inetDiagReqLen))}, nil
}

// dialSockDiag opens and binds a blocking NETLINK_INET_DIAG socket with a receive timeout.
func dialSockDiag() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_INET_DIAG)
	if err != nil {
		return -1, fmt.Errorf("sock_diag: socket: %w", wrapPerm(err))
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("sock_diag: bind: %w", wrapPerm(err))
	}
	tv := unix.Timeval{Sec: sockDiagRecvTimeout}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("sock_diag: set receive timeout: %w", err)
	}
	return fd, nil
}

// dumpQuery is one of the dumps that make up the socket table.
type dumpQuery struct {
	name   string
	family uint8 // 0: TCP of both families with one TCPDIAG_GETSOCK request
	proto  Proto
	ext    uint8
}

// dumpQueries are the dumps of Dump, in order: TCP of both families in one walk, then UDP.
// Only TCP has tcp_info. tcpQueries replace the first on a kernel without TCPDIAG_GETSOCK.
var (
	dumpQueries = [...]dumpQuery{
		{"tcp", 0, ProtoTCP, inetDiagInfoExt},
		{"udp", linuxAFInet, ProtoUDP, 0},
		{"udp6", linuxAFInet6, ProtoUDP, 0},
	}
	tcpQueries = [...]dumpQuery{
		{"tcp", linuxAFInet, ProtoTCP, inetDiagInfoExt},
		{"tcp6", linuxAFInet6, ProtoTCP, inetDiagInfoExt},
	}
)

// Dump appends to dst every TCP socket (all states, including SYN-RECV request sockets and TIME-WAIT) and every
// UDP socket, IPv4 and IPv6, of the caller's network namespace, requesting INET_DIAG_INFO for TCP so that
// HasInfo/BytesAcked/BytesReceived are filled. Returns the extended slice.
//
// On error it returns dst as it was given and the error; the socket is then closed and
// dialed again by the next Dump, so that no answer of the failed dump is read as part of
// the next one. A kernel without IPv6 answers the IPv6 dumps with an error
// (EAFNOSUPPORT / ENOENT), which is not one: they add nothing.
func (d *sockDiag) Dump(dst []Socket) ([]Socket, error) {
	if d.buf == nil {
		return dst, fmt.Errorf("sock_diag dump: %w", os.ErrClosed)
	}
	if d.fd < 0 {
		fd, err := dialSockDiag()
		if err != nil {
			return dst, fmt.Errorf("sock_diag dump: %w", err)
		}
		d.fd = fd
	}
	n0 := len(dst)
	for _, q := range dumpQueries {
		var err error
		if q.family == 0 && d.iter != nil {
			out, ierr := d.iter.Dump(dst)
			if ierr == nil {
				dst = out
				continue
			}
			d.iterErr = ierr
			_ = d.iter.Close()
			d.iter = nil
		}
		if q.family == 0 {
			dst, err = d.dumpTCP(dst)
		} else {
			dst, err = d.dumpOne(q, dst)
		}
		if err != nil && q.family == linuxAFInet6 &&
			(errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.ENOENT)) {
			continue // no IPv6 in this kernel
		}
		if err != nil {
			unix.Close(d.fd)
			d.fd = -1
			return dst[:n0], fmt.Errorf("sock_diag dump %s: %w", q.name, err)
		}
	}
	return dst, nil
}

// dumpTCP appends the TCP sockets of both address families: with one TCPDIAG_GETSOCK
// dump, or, on a kernel that refuses it, one SOCK_DIAG_BY_FAMILY dump per family.
func (d *sockDiag) dumpTCP(dst []Socket) ([]Socket, error) {
	if !d.noCompat {
		n0 := len(dst)
		out, err := d.dumpOne(dumpQueries[0], dst)
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EOPNOTSUPP) {
			return out, err
		}
		d.noCompat = true // and dump per family from now on, on a fresh socket
		unix.Close(d.fd)
		if d.fd, err = dialSockDiag(); err != nil {
			return out[:n0], err
		}
		dst = out[:n0]
	}
	for _, q := range tcpQueries {
		var err error
		dst, err = d.dumpOne(q, dst)
		if err != nil && q.family == linuxAFInet6 &&
			(errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.ENOENT)) {
			continue // no IPv6 in this kernel
		}
		if err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// dumpOne sends one dump request and parses its answers until NLMSG_DONE.
func (d *sockDiag) dumpOne(q dumpQuery, dst []Socket) ([]Socket, error) {
	d.seq++
	if q.family == 0 {
		d.req = appendTCPDiagReq(d.req[:0], d.seq, q.ext)
	} else {
		d.req = appendInetDiagReq(d.req[:0], d.seq, q.family, q.proto, q.ext)
	}
	// Without a destination address, netlink sends to the kernel (port id 0), and
	// unlike Sendto, Write allocates nothing.
	if _, err := unix.Write(d.fd, d.req); err != nil {
		return dst, fmt.Errorf("send: %w", err)
	}
	for {
		n, err := recvTrunc(d.fd, d.buf, 0)
		if err != nil {
			return dst, fmt.Errorf("receive: %w", err)
		}
		if n > len(d.buf) {
			d.buf = make([]byte, align4(n))
			return dst, fmt.Errorf("receive: datagram of %d bytes truncated (buffer grown for the next dump)", n)
		}
		var done bool
		dst, done, err = parseInetDiag(d.buf[:n], q.proto, dst)
		if err != nil {
			return dst, err
		}
		if done {
			return dst, nil
		}
	}
}

// Close closes the socket and the BPF iterator. Dump fails after Close.
func (d *sockDiag) Close() error {
	d.buf = nil
	if d.iter != nil {
		_ = d.iter.Close()
		d.iter = nil
	}
	if d.fd < 0 {
		return nil
	}
	err := unix.Close(d.fd)
	d.fd = -1
	if err != nil {
		return fmt.Errorf("sock_diag close: %w", err)
	}
	return nil
}

// recvTrunc receives one datagram into b with MSG_TRUNC, so that n is the datagram's real
// length even when it exceeds len(b). Unlike unix.Recvfrom it allocates nothing. EINTR is
// retried.
func recvTrunc(fd int, b []byte, flags int) (int, error) {
	for {
		r, _, e := unix.Syscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
			uintptr(flags|unix.MSG_TRUNC), 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(r), nil
	}
}

// wrapPerm adds ErrPermission to EPERM and EACCES.
func wrapPerm(err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%w: %w", ErrPermission, err)
	}
	return err
}

// destroyGroups are the sock_diag multicast groups the destroy watcher joins: TCP and
// UDP sockets, IPv4 and IPv6, as `ss -E` does (include/uapi/linux/sock_diag.h).
var destroyGroups = [...]int{
	unix.SKNLGRP_INET_TCP_DESTROY,
	unix.SKNLGRP_INET6_TCP_DESTROY,
	unix.SKNLGRP_INET_UDP_DESTROY,
	unix.SKNLGRP_INET6_UDP_DESTROY,
}

// destroyRcvBuf is the receive buffer asked for the destroy socket, so that a burst of
// closing connections (each event is about 400 bytes of data) is not lost.
const destroyRcvBuf = 4 << 20

// defaultDestroyLimit is the event limit of newDestroyWatcher when it is given none.
const defaultDestroyLimit = 4096

// destroyWatcher receives sock_diag socket-destroy broadcasts (the multicast groups `ss -E` uses:
// SKNLGRP_INET_TCP_DESTROY and SKNLGRP_INET6_TCP_DESTROY, and the UDP groups) in a goroutine and keeps them
// until drained (bounded: at most limit events, the overflow is counted).
//
// The kernel sends an event when it frees a socket (sk_destruct ->
// sock_diag_broadcast_destroy, from a work queue, so shortly after): for a TCP
// connection, when it enters TIME-WAIT or is closed, with its final tcp_info
// (inet_diag_handler_get_info). Events carry the socket's cookie, addresses, state and, for
// TCP, HasInfo and the byte counters; UID and Inode are 0.
type destroyWatcher struct {
	f       *os.File        // the netlink socket, in the runtime poller
	rc      syscall.RawConn // f's raw connection
	limit   int
	done    chan struct{} // closed when the receive goroutine ends
	closing atomic.Bool   // Close was called: a receive error is the closed socket

	mu      sync.Mutex
	events  []Socket // kept since the last Drain, at most limit
	dropped int      // events lost since the last Drain
	err     error    // the error that stopped the receive goroutine, if any
}

// newDestroyWatcher joins the sock_diag destroy groups and starts receiving. limit bounds
// the events kept between two Drains (4096 when limit <= 0). The error wraps
// ErrPermission on EPERM or EACCES: where the kernel (or a security module) restricts the
// groups, joining them needs CAP_NET_ADMIN. Upstream Linux (6.18 here) lets any process
// join them: net/core/sock_diag.c creates NETLINK_SOCK_DIAG with NL_CFG_F_NONROOT_RECV,
// and the events then cover every socket of the network namespace, whoever owns it.
func newDestroyWatcher(limit int) (*destroyWatcher, error) {
	if limit <= 0 {
		limit = defaultDestroyLimit
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_INET_DIAG)
	if err != nil {
		return nil, fmt.Errorf("sock_diag destroy events: socket: %w", wrapPerm(err))
	}
	// A larger receive buffer for bursts; SO_RCVBUFFORCE needs CAP_NET_ADMIN, which
	// joining the groups needs too. Neither failing is fatal.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, destroyRcvBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, destroyRcvBuf)
	}
	var groups uint32
	for _, g := range destroyGroups {
		groups |= 1 << (g - 1)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("sock_diag destroy events: join groups (needs CAP_NET_ADMIN): %w", wrapPerm(err))
	}
	// os.NewFile puts a non-blocking fd into the runtime poller, so that Close wakes a
	// goroutine blocked in Read.
	f := os.NewFile(uintptr(fd), "sock_diag-destroy")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("sock_diag destroy events: %w", err)
	}
	w := &destroyWatcher{f: f, rc: rc, limit: limit, done: make(chan struct{})}
	go w.run()
	return w, nil
}

// run receives and parses events until the socket is closed.
func (w *destroyWatcher) run() {
	defer close(w.done)
	buf := make([]byte, sockDiagBufSize)
	var scratch []Socket
	for {
		var n int
		var rerr error
		err := w.rc.Read(func(fd uintptr) bool {
			n, rerr = recvTrunc(int(fd), buf, unix.MSG_DONTWAIT)
			return rerr != unix.EAGAIN
		})
		if err != nil {
			// After Close, RawConn.Read fails with internal/poll's "use of
			// closed file", which is not os.ErrClosed.
			if !w.closing.Load() {
				w.stop(fmt.Errorf("sock_diag destroy events: %w", err))
			}
			return
		}
		switch {
		case rerr == unix.ENOBUFS:
			// The socket's receive buffer overflowed: an unknown number of events
			// is lost. Count at least one.
			w.lose(1)
			continue
		case rerr != nil:
			w.stop(fmt.Errorf("sock_diag destroy events: receive: %w", rerr))
			return
		case n > len(buf):
			buf = make([]byte, align4(n))
			w.lose(1)
			continue
		}
		scratch, _, err = parseInetDiag(buf[:n], ProtoTCP, scratch[:0])
		w.mu.Lock()
		room := w.limit - len(w.events)
		if room < len(scratch) {
			w.dropped += len(scratch) - room
			scratch = scratch[:room]
		}
		w.events = append(w.events, scratch...)
		if err != nil {
			w.dropped++ // a malformed event
		}
		w.mu.Unlock()
	}
}

// lose counts n lost events.
func (w *destroyWatcher) lose(n int) {
	w.mu.Lock()
	w.dropped += n
	w.mu.Unlock()
}

// stop records the error that ended the receive goroutine.
func (w *destroyWatcher) stop(err error) {
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
}

// Drain appends to dst the sockets destroyed since the last Drain and returns the number
// of events lost in that time: beyond the limit, by a receive buffer overflow (counted
// as one however many were lost), or malformed.
func (w *destroyWatcher) Drain(dst []Socket) (out []Socket, dropped int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	dst = append(dst, w.events...)
	clear(w.events)
	w.events = w.events[:0]
	dropped, w.dropped = w.dropped, 0
	return dst, dropped
}

// Err returns the error that stopped the watcher receiving events, or nil while it runs
// (and after Close).
func (w *destroyWatcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close stops the watcher and closes its socket. It returns promptly: closing the file
// wakes the receive goroutine through the runtime poller.
func (w *destroyWatcher) Close() error {
	w.closing.Store(true)
	err := w.f.Close()
	<-w.done
	if err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("sock_diag destroy events: close: %w", err)
	}
	return nil
}
