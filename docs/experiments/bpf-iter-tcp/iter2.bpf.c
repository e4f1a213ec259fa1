// SPDX-License-Identifier: GPL-2.0
// Prototype: dump the TCP socket table as fixed 80-byte binary records.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define AF_INET  2
#define AF_INET6 10
/* kernel TCP states */
#define TCP_TIME_WAIT     6
#define TCP_NEW_SYN_RECV 12

struct rec {
	__u64 cookie;
	__u64 inode;
	__u64 bytes_acked;
	__u64 bytes_received;
	__u8  laddr[16];   /* v4: first 4 bytes, network order */
	__u8  raddr[16];
	__u32 uid;
	__u16 lport;       /* host order */
	__u16 rport;       /* host order */
	__u8  state;
	__u8  family;
	__u8  full;        /* 1 = full socket (bytes_* and inode/uid valid) */
	__u8  pad[5];
};                     /* 80 bytes */

SEC("iter/tcp")
int dump_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct seq_file *seq = ctx->meta->seq;
	struct rec r = {};

	if (!skc)
		return 0;

	r.cookie = bpf_get_socket_cookie(skc);
	r.state  = skc->skc_state;
	r.family = skc->skc_family;
	r.lport  = skc->skc_num;
	r.rport  = bpf_ntohs(skc->skc_dport);

	if (r.family == AF_INET6) {
		BPF_CORE_READ_INTO(&r.laddr, skc, skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&r.raddr, skc, skc_v6_daddr);
	} else {
		__builtin_memcpy(r.laddr, &skc->skc_rcv_saddr, 4);
		__builtin_memcpy(r.raddr, &skc->skc_daddr, 4);
	}

	if (r.state != TCP_TIME_WAIT && r.state != TCP_NEW_SYN_RECV) {
		struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);
		if (tp) {
			struct sock *sk = &tp->inet_conn.icsk_inet.sk;
			r.full = 1;
			r.bytes_acked    = tp->bytes_acked;
			r.bytes_received = tp->bytes_received;
			r.uid   = sk->sk_uid.val;
			/* inode of the socket: struct socket is embedded in struct socket_alloc next to
			 * its vfs_inode (what the kernel's sock_i_ino() reads); 0 if no struct socket */
			struct socket *so = sk->sk_socket;
			if (so) {
				struct socket_alloc *sa = container_of(so, struct socket_alloc, socket);
				r.inode = BPF_CORE_READ(sa, vfs_inode.i_ino);
			}
		}
	}

	bpf_seq_write(seq, &r, sizeof(r));
	return 0;
}
