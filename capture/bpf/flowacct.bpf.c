// SPDX-License-Identifier: GPL-2.0
//
// flowacct: flow accounting in the kernel. A tc program (tcx ingress and
// egress) that decodes each packet as capture/decode.go does (Ethernet,
// stacked 802.1Q/802.1ad tags, IPv4, IPv6 with its extension headers, TCP,
// UDP, SCTP, DCCP, UDP-Lite ports, TCP flags, ICMP and ICMPv6 port
// unreachable) and counts it in a per-CPU LRU hash keyed by the packet's own
// 5-tuple, as it travels (source first). User space (capture/kacct_linux.go)
// reads the map once per interval, orients the keys local/remote, sums the
// CPUs and turns the growth of the counters into the same Batch the libpcap
// loop sends. The program never drops or changes a packet: it returns
// TC_ACT_UNSPEC (tcx: next program, then the stack).
//
// Built by scripts/gen-bpf.sh into flowacct.o (committed); no CO-RE: it reads
// only the packet and the stable __sk_buff fields.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_VLAN 0x8100
#define ETH_P_QINQ 0x88a8
#define ETH_P_QINQ91 0x9100

#define P_HOPOPTS 0
#define P_ICMP 1
#define P_TCP 6
#define P_UDP 17
#define P_DCCP 33
#define P_ROUTING 43
#define P_FRAGMENT 44
#define P_AH 51
#define P_ICMPV6 58
#define P_DSTOPTS 60
#define P_SCTP 132
#define P_UDPLITE 136

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* Handshake facts of capture/handshake.go, the "In" form: user space shifts
 * them left by one for a key whose source is the local endpoint. */
#define HS_SYN 0x01
#define HS_SYNACK 0x04
#define HS_RST 0x10
#define HS_ACK 0x40

/* A flow as the packet travels. Addresses are 16 bytes, IPv4 as
 * ::ffff:a.b.c.d; ports in host order, 0 for protocols without them and for
 * non-first fragments. 40 bytes, no holes. */
struct fkey {
	__u8 src[16];
	__u8 dst[16];
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 is4;
	__u8 pad[2];
};

/* The counters of one flow on one CPU, since the entry was created. TCP
 * flags are per interval: two slots, the one of generation gen&1 is written,
 * reset when its generation is older than gen (see struct ctl). 48 bytes. */
struct fval {
	__u64 bytes;   /* wire bytes, link header included */
	__u64 packets;
	__u64 first;   /* CLOCK_MONOTONIC ns */
	__u64 last;
	__u32 fgen[2]; /* generation of iflags[i] */
	__u8 iflags[2];
	__u16 hs;      /* handshake facts since the entry was created */
	__u8 pad[4];
};

/* Totals on one CPU. */
struct totals {
	__u64 packets; /* every packet the program saw */
	__u64 bytes;
	__u64 other_packets; /* no IP flow: ARP, unknown ethertype, bad header */
	__u64 other_bytes;
};

/* Written by user space: the interval generation, and the budget of new
 * flow entries per CPU and interval (see struct newflows; 0: no budget). */
struct ctl {
	__u32 gen;
	__u32 budget;
};

/* New entries of the flow map this CPU created in the interval gen. Past
 * ctl.budget, a handshake packet of a flow the map does not hold (a bare SYN,
 * or a SYN-ACK or RST whose reverse direction it does not hold either) is
 * counted in victims instead of creating an entry: under a spoofed SYN flood
 * every packet would be a new flow, each an LRU insert here (about 940 ns
 * instead of 200-240 for a known flow) and a lookup in user space. */
struct newflows {
	__u32 gen;
	__u32 n;
};

/* A victim of a SYN flood: the endpoint the SYNs go to (the SYN-ACKs and
 * RSTs come from). */
struct vkey {
	__u8 addr[16]; /* IPv4 as ::ffff:a.b.c.d */
	__u16 port;
	__u8 proto;
	__u8 is4;
};

/* What one CPU counted for a victim since the entry was created. */
struct vval {
	__u64 in_packets; /* the bare SYNs towards the victim */
	__u64 in_bytes;
	__u64 out_packets; /* the SYN-ACKs and RSTs from it */
	__u64 out_bytes;
	__u64 first; /* CLOCK_MONOTONIC ns */
	__u64 last;
	__u32 syns;    /* bare SYNs: the flows they stand for */
	__u32 synacks; /* SYN-ACKs among out_packets */
	__u32 rsts;    /* RSTs among out_packets */
	__u32 acks;    /* ACKs towards the victim that started an entry: handshakes
	                * completed after their SYN was counted here */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 131072); /* set by user space: twice the flow cap */
	__type(key, struct fkey);
	__type(value, struct fval);
} flows SEC(".maps");

/* ICMP port unreachable: the flow the error quotes (as the quoted packet
 * travelled), with a count. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct fkey);
	__type(value, __u64);
} unreach SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct totals);
} totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ctl);
} ctl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct newflows);
} newflows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct vkey);
	__type(value, struct vval);
} victims SEC(".maps");

struct pkt {
	struct fkey k;
	__u8 flags;
	__u8 unreach; /* q holds the quoted flow */
	struct fkey q;
};

static __always_inline void v4key(__u8 *dst, const __u8 *a)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, a, 4);
}

static __always_inline __u16 hsbits(__u8 f)
{
	if (f == 0)
		return 0;
	if (f & TCP_RST)
		return HS_RST;
	if ((f & (TCP_SYN | TCP_ACK)) == TCP_SYN)
		return HS_SYN;
	if ((f & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK))
		return HS_SYNACK;
	if (f & TCP_ACK)
		return HS_ACK;
	return 0;
}

/* l4 reads ports and TCP flags at off (decodeL4), and the flow an ICMP or
 * ICMPv6 port unreachable quotes. */
static __always_inline void l4(struct __sk_buff *skb, __u32 off, struct pkt *p, int v6)
{
	__u8 b[14];
	switch (p->k.proto) {
	case P_TCP:
		if (bpf_skb_load_bytes(skb, off, b, 14) == 0) {
			p->flags = b[13];
		} else if (bpf_skb_load_bytes(skb, off, b, 4) != 0) {
			return;
		}
		break;
	case P_UDP:
	case P_SCTP:
	case P_DCCP:
	case P_UDPLITE:
		if (bpf_skb_load_bytes(skb, off, b, 4) != 0)
			return;
		break;
	case P_ICMP: {
		/* type 3 code 3, the quoted IPv4 header and 8 bytes after it */
		__u8 q[20];
		if (v6 || bpf_skb_load_bytes(skb, off, b, 2) != 0 || b[0] != 3 || b[1] != 3)
			return;
		if (bpf_skb_load_bytes(skb, off + 8, q, 20) != 0 || q[0] >> 4 != 4)
			return;
		__u32 ihl = (q[0] & 0x0f) * 4;
		if (ihl < 20 || (q[9] != P_UDP && q[9] != P_TCP))
			return;
		if (bpf_skb_load_bytes(skb, off + 8 + ihl, b, 4) != 0)
			return;
		v4key(p->q.src, q + 12);
		v4key(p->q.dst, q + 16);
		p->q.proto = q[9];
		p->q.is4 = 1;
		p->q.sport = (b[0] << 8) | b[1];
		p->q.dport = (b[2] << 8) | b[3];
		p->unreach = 1;
		return;
	}
	case P_ICMPV6: {
		/* type 1 code 4, the quoted IPv6 header and its ports */
		__u8 q[44];
		if (!v6 || bpf_skb_load_bytes(skb, off, b, 2) != 0 || b[0] != 1 || b[1] != 4)
			return;
		if (bpf_skb_load_bytes(skb, off + 8, q, 44) != 0 || q[0] >> 4 != 6)
			return;
		if (q[6] != P_UDP && q[6] != P_TCP)
			return;
		__builtin_memcpy(p->q.src, q + 8, 16);
		__builtin_memcpy(p->q.dst, q + 24, 16);
		p->q.proto = q[6];
		p->q.sport = (q[40] << 8) | q[41];
		p->q.dport = (q[42] << 8) | q[43];
		p->unreach = 1;
		return;
	}
	default:
		return;
	}
	p->k.sport = (b[0] << 8) | b[1];
	p->k.dport = (b[2] << 8) | b[3];
}

/* fast reads the common packet straight from the skb's linear data: Ethernet,
 * up to two VLAN tags, IPv4 or IPv6 without extension headers, then TCP, UDP,
 * SCTP, DCCP or UDP-Lite with their ports in the linear part. It returns 1
 * when p is complete, 0 when decode must look (anything else, ICMP included,
 * or headers beyond the linear part): then p is left for decode to fill. */
static __always_inline int fast(struct __sk_buff *skb, struct pkt *p)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u8 *b = data;
	if (data + 34 > end) /* Ethernet and IPv4, or two tags */
		return 0;
	__u16 etype = (b[12] << 8) | b[13];
	__u32 off = 14;
	if (etype == ETH_P_VLAN || etype == ETH_P_QINQ || etype == ETH_P_QINQ91) {
		etype = (b[16] << 8) | b[17];
		off = 18;
		if (etype == ETH_P_VLAN || etype == ETH_P_QINQ || etype == ETH_P_QINQ91) {
			etype = (b[20] << 8) | b[21];
			off = 22;
		}
	}
	__u8 *ip = data + off;
	__u8 *l4p;
	if (etype == ETH_P_IPV4) {
		if ((void *)(ip + 20) > end || ip[0] >> 4 != 4)
			return 0;
		__u32 ihl = (ip[0] & 0x0f) * 4;
		if (ihl < 20 || (((ip[6] << 8) | ip[7]) & 0x3fff) != 0)
			return 0; /* fragments: decode */
		l4p = ip + ihl;
		v4key(p->k.src, ip + 12);
		v4key(p->k.dst, ip + 16);
		p->k.proto = ip[9];
		p->k.is4 = 1;
	} else if (etype == ETH_P_IPV6) {
		if ((void *)(ip + 40) > end || ip[0] >> 4 != 6)
			return 0;
		__builtin_memcpy(p->k.src, ip + 8, 16);
		__builtin_memcpy(p->k.dst, ip + 24, 16);
		p->k.proto = ip[6];
		l4p = ip + 40;
	} else {
		return 0;
	}
	switch (p->k.proto) {
	case P_TCP:
		if ((void *)(l4p + 14) > end)
			goto slow;
		p->flags = l4p[13];
		break;
	case P_UDP:
	case P_SCTP:
	case P_DCCP:
	case P_UDPLITE:
		if ((void *)(l4p + 4) > end)
			goto slow;
		break;
	default:
		goto slow;
	}
	p->k.sport = (l4p[0] << 8) | l4p[1];
	p->k.dport = (l4p[2] << 8) | l4p[3];
	return 1;
slow:
	__builtin_memset(p, 0, sizeof(*p));
	return 0;
}

/* decode fills p from the packet; 0 when it carries no IP flow. */
static __always_inline int decode(struct __sk_buff *skb, struct pkt *p)
{
	__u8 eth[14];
	__u32 off = 14;
	if (bpf_skb_load_bytes(skb, 0, eth, 14) != 0)
		return 0;
	__u16 etype = (eth[12] << 8) | eth[13];
	for (int i = 0; i < 8; i++) {
		if (etype != ETH_P_VLAN && etype != ETH_P_QINQ && etype != ETH_P_QINQ91)
			break;
		__u8 tag[4];
		if (bpf_skb_load_bytes(skb, off, tag, 4) != 0)
			return 0;
		etype = (tag[2] << 8) | tag[3];
		off += 4;
	}
	if (etype == ETH_P_IPV4) {
		__u8 ip[20];
		if (bpf_skb_load_bytes(skb, off, ip, 20) != 0 || ip[0] >> 4 != 4)
			return 0;
		__u32 ihl = (ip[0] & 0x0f) * 4;
		if (ihl < 20 || off + ihl > skb->len)
			return 0;
		v4key(p->k.src, ip + 12);
		v4key(p->k.dst, ip + 16);
		p->k.proto = ip[9];
		p->k.is4 = 1;
		if ((((ip[6] << 8) | ip[7]) & 0x1fff) != 0)
			return 1; /* a non-first fragment: no ports */
		l4(skb, off + ihl, p, 0);
		return 1;
	}
	if (etype != ETH_P_IPV6)
		return 0;
	__u8 ip6[40];
	if (bpf_skb_load_bytes(skb, off, ip6, 40) != 0 || ip6[0] >> 4 != 6)
		return 0;
	__builtin_memcpy(p->k.src, ip6 + 8, 16);
	__builtin_memcpy(p->k.dst, ip6 + 24, 16);
	__u8 nh = ip6[6];
	__u32 pos = off + 40;
	for (int i = 0; i < 16; i++) {
		__u8 h[4];
		switch (nh) {
		case P_HOPOPTS:
		case P_ROUTING:
		case P_DSTOPTS:
			if (bpf_skb_load_bytes(skb, pos, h, 2) != 0)
				goto out;
			nh = h[0];
			pos += ((__u32)h[1] + 1) * 8;
			break;
		case P_AH:
			if (bpf_skb_load_bytes(skb, pos, h, 2) != 0)
				goto out;
			nh = h[0];
			pos += ((__u32)h[1] + 2) * 4;
			break;
		case P_FRAGMENT:
			if (bpf_skb_load_bytes(skb, pos, h, 4) != 0)
				goto out;
			nh = h[0];
			pos += 8;
			if ((((h[2] << 8) | h[3]) >> 3) != 0)
				goto out; /* a non-first fragment */
			break;
		default:
			p->k.proto = nh;
			l4(skb, pos, p, 1);
			return 1;
		}
	}
out:
	p->k.proto = nh;
	return 1;
}

/* over_budget counts a handshake packet of a new TCP flow in victims when
 * the interval's budget of new entries is spent: a bare SYN (SYN without ACK,
 * RST or FIN) towards its destination, a SYN-ACK or RST whose reverse
 * direction is not in the flow map either (the answer to a SYN counted here)
 * from its source. It returns 0 for any other packet, which creates its entry
 * as under the budget. */
static __always_inline int over_budget(struct pkt *p, __u64 wire, __u64 now)
{
	__u8 f = p->flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN);
	struct vkey vk;
	int in;
	__builtin_memset(&vk, 0, sizeof(vk));
	vk.proto = p->k.proto;
	vk.is4 = p->k.is4;
	if (f == TCP_SYN) {
		in = 1;
		__builtin_memcpy(vk.addr, p->k.dst, 16);
		vk.port = p->k.dport;
	} else if (f == (TCP_SYN | TCP_ACK) || (f & (TCP_RST | TCP_SYN | TCP_FIN)) == TCP_RST) {
		struct fkey r;
		__builtin_memcpy(r.src, p->k.dst, 16);
		__builtin_memcpy(r.dst, p->k.src, 16);
		r.sport = p->k.dport;
		r.dport = p->k.sport;
		r.proto = p->k.proto;
		r.is4 = p->k.is4;
		r.pad[0] = 0;
		r.pad[1] = 0;
		if (bpf_map_lookup_elem(&flows, &r))
			return 0; /* the answer to a SYN that has its entry */
		in = 0;
		__builtin_memcpy(vk.addr, p->k.src, 16);
		vk.port = p->k.sport;
	} else {
		return 0;
	}
	struct vval *vv = bpf_map_lookup_elem(&victims, &vk);
	if (!vv) {
		struct vval nv;
		__builtin_memset(&nv, 0, sizeof(nv));
		/* on failure another CPU created it meanwhile: it has a value for
		 * this CPU too */
		bpf_map_update_elem(&victims, &vk, &nv, BPF_NOEXIST);
		vv = bpf_map_lookup_elem(&victims, &vk);
		if (!vv)
			return 0;
	}
	if (vv->first == 0)
		vv->first = now;
	vv->last = now;
	if (in) {
		vv->in_packets++;
		vv->in_bytes += wire;
		vv->syns++;
	} else {
		vv->out_packets++;
		vv->out_bytes += wire;
		if (f & TCP_RST)
			vv->rsts++;
		else
			vv->synacks++;
	}
	return 1;
}

/* completed counts, for a victim that has an entry, an ACK towards it that
 * starts a new flow entry: the client's last handshake packet of a connection
 * whose SYN (and SYN-ACK) were counted in victims, or a packet of a flow whose
 * entry was evicted. User space tells completed handshakes from half-open ones
 * with it. */
static __always_inline void completed(struct pkt *p)
{
	struct vkey vk;
	__builtin_memset(&vk, 0, sizeof(vk));
	__builtin_memcpy(vk.addr, p->k.dst, 16);
	vk.port = p->k.dport;
	vk.proto = p->k.proto;
	vk.is4 = p->k.is4;
	struct vval *vv = bpf_map_lookup_elem(&victims, &vk);
	if (vv)
		vv->acks++;
}

static __always_inline void account(struct __sk_buff *skb)
{
	__u32 zero = 0;
	/* The wire length as libpcap reports it: skb->len holds the link
	 * header at both hooks; a VLAN tag taken out by the driver or the
	 * stack (skb->vlan_tci) is put back by libpcap, 4 bytes. */
	__u64 wire = skb->len;
	if (skb->vlan_present)
		wire += 4;
	struct totals *t = bpf_map_lookup_elem(&totals, &zero);
	if (!t)
		return;
	t->packets++;
	t->bytes += wire;

	struct pkt p;
	__builtin_memset(&p, 0, sizeof(p));
	if (!fast(skb, &p) && !decode(skb, &p)) {
		t->other_packets++;
		t->other_bytes += wire;
		return;
	}
	if (p.unreach) {
		__u64 one = 1, *n = bpf_map_lookup_elem(&unreach, &p.q);
		if (n)
			__sync_fetch_and_add(n, 1);
		else
			bpf_map_update_elem(&unreach, &p.q, &one, BPF_NOEXIST);
	}
	struct ctl *c = bpf_map_lookup_elem(&ctl, &zero);
	__u32 gen = c ? c->gen : 0;
	__u32 slot = gen & 1;
	/* the coarse clock (a tick's resolution) costs a few ns; the precise one
	 * about 50 in a VM, a quarter of the program */
	__u64 now = bpf_ktime_get_coarse_ns();
	__u16 hs = hsbits(p.flags);
	struct fval *v = bpf_map_lookup_elem(&flows, &p.k);
	if (!v) {
		struct newflows *nf = bpf_map_lookup_elem(&newflows, &zero);
		if (!nf)
			return;
		if (nf->gen != gen) {
			nf->gen = gen;
			nf->n = 0;
		}
		if (c && c->budget && nf->n >= c->budget && p.k.proto == P_TCP && over_budget(&p, wire, now))
			return;
		if (p.k.proto == P_TCP && (p.flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) == TCP_ACK)
			completed(&p);
		nf->n++;
		struct fval nv;
		__builtin_memset(&nv, 0, sizeof(nv));
		nv.bytes = wire;
		nv.packets = 1;
		nv.first = now;
		nv.last = now;
		/* constant indices: the verifier refuses a variable offset
		 * into the stack */
		if (slot) {
			nv.fgen[1] = gen;
			nv.iflags[1] = p.flags;
		} else {
			nv.fgen[0] = gen;
			nv.iflags[0] = p.flags;
		}
		nv.hs = hs;
		if (bpf_map_update_elem(&flows, &p.k, &nv, BPF_NOEXIST) == 0)
			return;
		/* Another CPU created it meanwhile: add to this CPU's value. */
		v = bpf_map_lookup_elem(&flows, &p.k);
		if (!v)
			return;
	}
	v->bytes += wire;
	v->packets++;
	if (v->first == 0)
		v->first = now;
	v->last = now;
	if (slot == 0) {
		if (v->fgen[0] != gen) {
			v->fgen[0] = gen;
			v->iflags[0] = 0;
		}
		v->iflags[0] |= p.flags;
	} else {
		if (v->fgen[1] != gen) {
			v->fgen[1] = gen;
			v->iflags[1] = 0;
		}
		v->iflags[1] |= p.flags;
	}
	v->hs |= hs;
}

SEC("tc")
int flowacct(struct __sk_buff *skb)
{
	account(skb);
	return TC_ACT_UNSPEC;
}
