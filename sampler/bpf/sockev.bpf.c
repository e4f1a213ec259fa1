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
//     inet_hash_connect), so the owner is kept in `connecting` by socket
//     cookie, and the record is sent when the socket leaves SYN_SENT (the
//     SYN-ACK: ESTABLISHED; or CLOSE on failure), with the whole tuple: one
//     round trip after the SYN, before the first data byte.
//   - the same tracepoint, new state LISTEN: listen(2) in the server process.
//     Accepted connections are attributed to the listener's owner (accept
//     itself has no tracepoint; the passive ESTABLISHED transition runs in
//     softirq, where current is whatever the CPU was running).
//   - sock:sock_send_length and sock:sock_recv_length, UDP sockets only: UDP
//     has no connection; the first send or receive of a socket (and the first
//     after its tuple changes: connect, bind) reports it, in the caller's
//     context. An LRU hash keyed by cookie (udp_seen) keeps later calls of the
//     same socket to one map lookup and no record. (These fire for every
//     sendmsg/recvmsg; a socket that is not UDP costs a field compare.)
//
// A record that finds the ring buffer full is counted in stats[0] (user space
// reports the loss); stats[1] counts records sent. Records are submitted
// without a wake-up while less than WAKE_BYTES wait, so that a burst of
// connections costs the reader one wake-up per poll period, not one per
// connection (the reader polls every few milliseconds).
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

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);   /* socket cookie */
	__type(value, __u64); /* signature of the tuple last reported */
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
 * IPv4 (a dual-stack socket with a v4-mapped peer) is reported as IPv4. */
static __always_inline int tuple(struct sock *sk, struct event *e)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	e->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&e->daddr, sk, __sk_common.skc_v6_daddr);
		if (!is_v4mapped((__u32 *)e->daddr)) {
			e->family = AF_INET6;
			return 0;
		}
		__builtin_memset(e->saddr, 0, sizeof(e->saddr));
		__builtin_memset(e->daddr, 0, sizeof(e->daddr));
	} else if (family != AF_INET) {
		return -1;
	}
	e->family = AF_INET;
	BPF_CORE_READ_INTO((__u32 *)e->saddr, sk, __sk_common.skc_rcv_saddr);
	BPF_CORE_READ_INTO((__u32 *)e->daddr, sk, __sk_common.skc_daddr);
	return 0;
}

static __always_inline void submit(struct event *e)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= WAKE_BYTES)
		flags = BPF_RB_FORCE_WAKEUP;
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

/* sockets in SYN_SENT -> who called connect */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* socket cookie */
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
	e->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
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
	__u64 cookie;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (newstate == TCP_SYN_SENT) {
		cookie = bpf_get_socket_cookie(sk);
		current_owner(&o);
		bpf_map_update_elem(&connecting, &cookie, &o, BPF_ANY);
		return 0;
	}
	if (oldstate == TCP_SYN_SENT) {
		cookie = bpf_get_socket_cookie(sk);
		po = bpf_map_lookup_elem(&connecting, &cookie);
		if (!po)
			return 0;
		report(sk, cookie, po, EV_CONNECT, IPPROTO_TCP);
		bpf_map_delete_elem(&connecting, &cookie);
		return 0;
	}
	if (newstate == TCP_LISTEN) {
		cookie = bpf_get_socket_cookie(sk);
		current_owner(&o);
		report(sk, cookie, &o, EV_LISTEN, IPPROTO_TCP);
	}
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
	cookie = bpf_get_socket_cookie(sk);
	/* any change of the tuple changes the signature (a collision only delays a report) */
	for (int i = 0; i < 16; i += 4) {
		a ^= *(__u32 *)&tmp.daddr[i];
		a ^= *(__u32 *)&tmp.saddr[i] * 0x9e3779b1;
	}
	sig = ((__u64)tmp.sport << 48) | ((__u64)tmp.dport << 32) | a;
	sig ^= (__u64)tmp.family << 40;
	old = bpf_map_lookup_elem(&udp_seen, &cookie);
	if (old && *old == sig)
		return 0;
	bpf_map_update_elem(&udp_seen, &cookie, &sig, BPF_ANY);
	current_owner(&o);
	if (report(sk, cookie, &o, kind, IPPROTO_UDP) < 0)
		bpf_map_delete_elem(&udp_seen, &cookie); /* lost: report it next time */
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
