// SPDX-License-Identifier: GPL-2.0
//
// sockev: who owns each socket, reported when a process takes it, so that a
// connection that lives a millisecond is attributed as well as one that lives
// a day. Each record (struct event, 88 bytes) carries the socket's 4-tuple,
// its cookie, the process (tgid, thread id, comm, uid, cgroup v2 id) and the
// inode of the socket's network namespace; records go to user space through a
// BPF ring buffer (sampler/sockev_linux.go reads it).
//
// Why these hooks. They are BTF tracepoints (tp_btf): global (every network
// namespace and cgroup, nothing to attach per container), read-only (they
// cannot change what the kernel does with a socket, unlike cgroup sock_addr or
// sockops programs attached to the root cgroup), and loadable where BPF
// trampolines (fentry/fexit) are not: some kernels and VMs refuse fentry
// programs with EPERM while they accept tracepoints (the machine this was
// written on is one). The owner is read where the kernel runs in the owner's
// process context:
//   - sock:inet_sock_set_state, TCP, new state SYN_SENT: connect(2) (or a
//     fast-open sendmsg) in the connecting process. The source port is not
//     chosen yet at this point (tcp_v4_connect sets SYN_SENT before
//     inet_hash_connect), so the owner is kept on the socket (`connecting`,
//     socket local storage), and the record is sent when it leaves SYN_SENT (the
//     SYN-ACK: ESTABLISHED; or CLOSE on failure), with the whole tuple: one
//     round trip after the SYN, before the first data byte.
//   - the same tracepoint, new state LISTEN: listen(2) in the server process.
//     Accepted connections are attributed to the listener's owner (accept
//     itself has no tracepoint; the passive ESTABLISHED transition runs in
//     softirq, where current is whatever the CPU was running).
//   - sock:sock_send_length and sock:sock_recv_length, UDP sockets only: UDP
//     has no connection; the first send or receive of a socket (and the first
//     after its tuple changes: connect, bind) reports it, in the caller's
//     context. The tuple last reported is kept on the socket (udp_seen, socket
//     local storage): later calls of the same socket cost a compare, no record. (These fire for every
//     sendmsg/recvmsg; a socket that is not UDP costs a field compare.)
//
// A record that finds the ring buffer full is counted in stats[0] (user space
// reports the loss); stats[1] counts records sent. A record wakes the reader
// only when the last wake-up is WAKE_NS (5 ms) old or WAKE_BYTES wait (see
// submit): a burst of connections costs one wake-up per 5 ms, not one per
// connection, and an idle reader is not woken.
//
// Built by scripts/gen-bpf.sh into sockev.o (committed); the record layout is
// parsed by sampler/sockev.go.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17

#define WAKE_BYTES (64 * 1024)
#define WAKE_NS (5 * 1000 * 1000)

#define TCP_SYN_SENT 2
#define TCP_LISTEN 10
#define SOCK_DGRAM 2

enum {
	EV_CONNECT = 1,
	EV_LISTEN = 2,
	EV_UDP_SEND = 3,
	EV_UDP_RECV = 4,
};

struct event {
	__u64 cookie;
	__u64 cgroup;    /* cgroup v2 id of the process */
	__u8 saddr[16];  /* local; IPv4: the first 4 bytes */
	__u8 daddr[16];  /* remote; all zero for an unconnected UDP socket */
	__u32 tgid;      /* the process */
	__u32 pid;       /* the thread */
	__u32 uid;
	__u32 netns;     /* inode of the socket's network namespace */
	__u16 sport;     /* host order */
	__u16 dport;     /* host order */
	__u8 family;
	__u8 proto;
	__u8 kind;
	__u8 pad;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20); /* user space may change it before loading */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* the signature of the tuple a UDP socket was last reported with, on the socket */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} udp_seen SEC(".maps");

static __always_inline void count(__u32 i)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &i);
	if (v)
		*v += 1;
}

static __always_inline int is_v4mapped(const __u32 *a)
{
	return a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff);
}

/* tuple reads the socket's addresses and ports into e; an IPv6 socket talking
 * IPv4 (a dual-stack socket with a v4-mapped peer) is reported as IPv4. sk is a
 * BTF pointer: the fields are plain loads (relocated by CO-RE), no helper calls. */
static __always_inline int tuple(struct sock *sk, struct event *e)
{
	struct sock_common *c = &sk->__sk_common;
	__u16 family = c->skc_family;

	e->sport = c->skc_num;
	e->dport = bpf_ntohs(c->skc_dport);
	if (family == AF_INET6) {
		__u32 *d = (__u32 *)e->daddr, *l = (__u32 *)e->saddr;

		d[0] = c->skc_v6_daddr.in6_u.u6_addr32[0];
		d[1] = c->skc_v6_daddr.in6_u.u6_addr32[1];
		d[2] = c->skc_v6_daddr.in6_u.u6_addr32[2];
		d[3] = c->skc_v6_daddr.in6_u.u6_addr32[3];
		if (!is_v4mapped(d)) {
			l[0] = c->skc_v6_rcv_saddr.in6_u.u6_addr32[0];
			l[1] = c->skc_v6_rcv_saddr.in6_u.u6_addr32[1];
			l[2] = c->skc_v6_rcv_saddr.in6_u.u6_addr32[2];
			l[3] = c->skc_v6_rcv_saddr.in6_u.u6_addr32[3];
			e->family = AF_INET6;
			return 0;
		}
		__builtin_memset(e->saddr, 0, sizeof(e->saddr));
		__builtin_memset(e->daddr, 0, sizeof(e->daddr));
	} else if (family != AF_INET) {
		return -1;
	}
	e->family = AF_INET;
	*(__u32 *)e->saddr = c->skc_rcv_saddr;
	*(__u32 *)e->daddr = c->skc_daddr;
	return 0;
}

/* when a record last woke the reader (bpf_ktime_get_ns) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} wake SEC(".maps");

/* submit sends a record, waking the reader when it has not been woken for WAKE_NS or when
 * WAKE_BYTES wait: the first record after a quiet spell is read at once, a burst costs one
 * wake-up per WAKE_NS, and an idle wiretop is not woken at all (the reader also looks every
 * 100 ms, for the records of a burst that came after its last wake-up). */
static __always_inline void submit(struct event *e)
{
	__u64 flags = BPF_RB_NO_WAKEUP, now = bpf_ktime_get_ns();
	__u32 k = 0;
	__u64 *last = bpf_map_lookup_elem(&wake, &k);

	if (!last || now - *last >= WAKE_NS || bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= WAKE_BYTES) {
		flags = BPF_RB_FORCE_WAKEUP;
		if (last)
			*last = now;
	}
	bpf_ringbuf_submit(e, flags);
	count(1);
}

struct owner {
	__u64 cgroup;
	__u32 tgid;
	__u32 pid;
	__u32 uid;
	__u32 pad;
	char comm[16];
};

/* who called connect, kept on the socket itself (socket local storage: freed with the
 * socket, nothing to size or to leak) from SYN_SENT until the socket leaves it */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct owner);
} connecting SEC(".maps");

static __always_inline void current_owner(struct owner *o)
{
	__u64 id = bpf_get_current_pid_tgid();

	o->tgid = id >> 32;
	o->pid = (__u32)id;
	o->uid = (__u32)bpf_get_current_uid_gid();
	o->cgroup = bpf_get_current_cgroup_id();
	o->pad = 0;
	bpf_get_current_comm(&o->comm, sizeof(o->comm));
}

static __always_inline int report(struct sock *sk, __u64 cookie, const struct owner *o, __u8 kind, __u8 proto)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count(0);
		return -1;
	}
	__builtin_memset(e, 0, sizeof(*e));
	if (tuple(sk, e) < 0) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return 0;
	}
	e->cookie = cookie;
	e->cgroup = o->cgroup;
	e->tgid = o->tgid;
	e->pid = o->pid;
	e->uid = o->uid;
	e->netns = sk->__sk_common.skc_net.net->ns.inum;
	e->kind = kind;
	e->proto = proto;
	__builtin_memcpy(e->comm, o->comm, sizeof(e->comm));
	submit(e);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sockev_state, const struct sock *csk, const int oldstate, const int newstate)
{
	struct sock *sk = (struct sock *)csk;
	struct owner o, *po;

	/* most transitions are none of these: decide on the arguments before touching sk */
	if (newstate != TCP_SYN_SENT && oldstate != TCP_SYN_SENT && newstate != TCP_LISTEN)
		return 0;
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (newstate == TCP_SYN_SENT) {
		po = bpf_sk_storage_get(&connecting, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (po)
			current_owner(po);
		return 0;
	}
	if (oldstate == TCP_SYN_SENT) {
		po = bpf_sk_storage_get(&connecting, sk, 0, 0);
		if (po && po->tgid)
			report(sk, bpf_get_socket_cookie(sk), po, EV_CONNECT, IPPROTO_TCP);
		return 0;
	}
	current_owner(&o);
	report(sk, bpf_get_socket_cookie(sk), &o, EV_LISTEN, IPPROTO_TCP);
	return 0;
}

static __always_inline int report_udp(struct sock *sk, __u8 kind)
{
	struct event tmp = {};
	struct owner o;
	__u64 cookie, sig, *old;
	__u32 a = 0;

	if (sk->sk_protocol != IPPROTO_UDP || sk->sk_type != SOCK_DGRAM)
		return 0;
	if (tuple(sk, &tmp) < 0 || tmp.sport == 0)
		return 0; /* not bound yet: a later call reports it */
	/* any change of the tuple changes the signature (a collision only delays a report) */
	for (int i = 0; i < 16; i += 4) {
		a ^= *(__u32 *)&tmp.daddr[i];
		a ^= *(__u32 *)&tmp.saddr[i] * 0x9e3779b1;
	}
	sig = ((__u64)tmp.sport << 48) | ((__u64)tmp.dport << 32) | a | 1;
	sig ^= (__u64)tmp.family << 40;
	old = bpf_sk_storage_get(&udp_seen, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!old || *old == sig)
		return 0;
	*old = sig;
	cookie = bpf_get_socket_cookie(sk);
	current_owner(&o);
	if (report(sk, cookie, &o, kind, IPPROTO_UDP) < 0)
		*old = 0; /* lost: report it next time */
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sockev_send, struct sock *sk, int ret, int flags)
{
	return report_udp(sk, EV_UDP_SEND);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sockev_recv, struct sock *sk, int ret, int flags)
{
	return report_udp(sk, EV_UDP_RECV);
}
