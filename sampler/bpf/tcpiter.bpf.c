// SPDX-License-Identifier: GPL-2.0
//
// tcpiter: the TCP socket table of the reader's network namespace as fixed
// 88-byte records, one per socket, read from a BPF iterator (iter/tcp). The
// sampler uses it as root instead of the sock_diag dump, which costs about
// twice as much kernel time (docs/experiments/bpf-iter-tcp). Every field
// follows what sock_diag reports for the socket (inet_sk_diag_fill,
// tcp_diag_get_info), so that the two sources give the same Socket.
//
// Built by scripts/gen-bpf.sh into tcpiter.o (committed); the record layout
// is parsed by sampler/tcpiter.go.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define AF_INET6 10
#define TCP_SYN_RECV 3
#define TCP_TIME_WAIT 6
#define TCP_LISTEN 10
#define TCP_NEW_SYN_RECV 12

struct rec {
	__u64 cookie;
	__u64 inode;          /* 0 for TIME-WAIT and request sockets */
	__u64 bytes_acked;    /* tcp_info's, full sockets only */
	__u64 bytes_received;
	__u8 laddr[16];       /* IPv4: the first 4 bytes */
	__u8 raddr[16];
	__u32 uid;
	__u32 rqueue;         /* as sock_diag: the accept backlog for LISTEN */
	__u32 wqueue;         /* as sock_diag: the backlog limit for LISTEN */
	__u16 lport;          /* host order */
	__u16 rport;          /* host order */
	__u8 state;           /* request sockets say SYN-RECV, as in sock_diag */
	__u8 family;
	__u8 full;            /* 1: inode, uid, queues and bytes are the socket's */
	__u8 pad[5];
};

SEC("iter/tcp")
int dump_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct seq_file *seq = ctx->meta->seq;
	struct rec r = {};

	if (!skc)
		return 0;
	r.cookie = bpf_get_socket_cookie(skc);
	r.state = skc->skc_state;
	r.family = skc->skc_family;
	r.lport = skc->skc_num;
	r.rport = bpf_ntohs(skc->skc_dport);
	if (r.family == AF_INET6) {
		BPF_CORE_READ_INTO(&r.laddr, skc, skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&r.raddr, skc, skc_v6_daddr);
	} else {
		__builtin_memcpy(r.laddr, &skc->skc_rcv_saddr, 4);
		__builtin_memcpy(r.raddr, &skc->skc_daddr, 4);
	}
	if (r.state == TCP_NEW_SYN_RECV)
		r.state = TCP_SYN_RECV;
	else if (r.state == TCP_TIME_WAIT) {
		/* an orphan closed in FIN-WAIT-2 is a time-wait sock too: sock_diag and ss
		 * report its substate (inet_twsk_diag_fill) */
		struct tcp_timewait_sock *tw = bpf_skc_to_tcp_timewait_sock(skc);
		if (tw)
			r.state = tw->tw_sk.tw_substate;
	} else {
		struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);
		if (tp) {
			struct sock *sk = &tp->inet_conn.icsk_inet.sk;
			struct socket *so = sk->sk_socket;
			r.full = 1;
			r.bytes_acked = tp->bytes_acked;
			r.bytes_received = tp->bytes_received;
			r.uid = sk->sk_uid.val;
			if (so) /* the inode shares the socket's allocation, as in sock_i_ino */
				r.inode = BPF_CORE_READ(container_of(so, struct socket_alloc, socket), vfs_inode.i_ino);
			if (r.state == TCP_LISTEN) {
				r.rqueue = sk->sk_ack_backlog;
				r.wqueue = sk->sk_max_ack_backlog;
			} else {
				int rq = (int)(tp->rcv_nxt - tp->copied_seq);
				r.rqueue = rq > 0 ? rq : 0;
				r.wqueue = tp->write_seq - tp->snd_una;
			}
		}
	}
	bpf_seq_write(seq, &r, sizeof(r));
	return 0;
}
