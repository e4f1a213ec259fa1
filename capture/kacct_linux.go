//go:build linux

package capture

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// flowAcctObj is the compiled tc program (bpf/flowacct.bpf.c, built by scripts/gen-bpf.sh).
//
//go:embed bpf/flowacct.o
var flowAcctObj []byte

// kkey is struct fkey of flowacct.bpf.c: a flow as its packets travel.
type kkey struct {
	Src, Dst     [16]byte
	Sport, Dport uint16
	Proto, Is4   uint8
	_            [2]byte
}

// kval is struct fval: one flow's counters on one CPU since the entry was created.
type kval struct {
	Bytes, Packets uint64
	First, Last    uint64 // CLOCK_MONOTONIC nanoseconds
	Fgen           [2]uint32
	Iflags         [2]uint8
	Hs             uint16
	_              [4]byte
}

// ktotals is struct totals: every packet the program saw, on one CPU.
type ktotals struct {
	Packets, Bytes           uint64
	OtherPackets, OtherBytes uint64
}

// kctl is struct ctl.
type kctl struct {
	Gen    uint32
	Budget uint32 // new flow entries a CPU may create per interval before SYNs are aggregated; 0: no budget
}

// kvkey is struct vkey: a SYN flood's victim, the endpoint its SYNs go to.
type kvkey struct {
	Addr  [16]byte
	Port  uint16
	Proto uint8
	Is4   uint8
}

// kvval is struct vval: what one CPU counted for a victim since its entry was created.
type kvval struct {
	InPackets, InBytes   uint64 // bare SYNs towards the victim
	OutPackets, OutBytes uint64 // SYN-ACKs and RSTs from it
	First, Last          uint64 // CLOCK_MONOTONIC nanoseconds
	Syns, Synacks, Rsts  uint32
	Acks                 uint32 // ACKs towards the victim that started an entry: completed handshakes
}

// kvprev is what user space keeps about one victim entry: its sums as of the last read.
type kvprev struct {
	sum  kvval
	seen uint64 // kacct.seq of the last read that found the entry
}

// kacctBudget is the full budget of new flow entries per interval, over all CPUs, as a
// fraction of the map's flows: flowCap/8 (8,192 for the default cap), a CPU's share
// flowCap/8/ncpu, for a host that has shown itself a busy server. The budget adapts to what
// each read finds over it (the SYNs counted for victims): at least half of them completed
// by their client's ACK is a busy server, and the intervals that follow have this budget;
// fewer is a flood (spoofed sources complete nothing), and they have kacctFloodBudget; a
// read with none over it takes a flood's budget back to kacctStartBudget and leaves the
// others. Each flow admitted costs user space its entry, its talker and its attribution
// (about 20 µs in all): 8,192 of them an interval were 1.4 to 2 s of CPU per million
// packets of a 100 kpps flood, and a flood's first interval admits the whole budget before
// a read can tell. A connection whose SYN went over the budget still gets its row from the
// client's ACK on.
func kacctBudget(flowCap, ncpu int) uint32 {
	return uint32(max(flowCap/8/max(ncpu, 1), 1))
}

// kacctStartBudget is the budget a capture starts with, and after a flood: flowCap/32 over
// all CPUs (2,048 new flows an interval for the default cap: a quiet host opens tens to
// hundreds; a scan of 1,000 ports and the answers to it fit).
func kacctStartBudget(flowCap, ncpu int) uint32 {
	return uint32(max(flowCap/32/max(ncpu, 1), 1))
}

// kacctFloodBudget is the budget while a flood lasts: flowCap/256 over all CPUs (256 new
// flows an interval for the default cap), enough to name sources in the alert's evidence.
func kacctFloodBudget(flowCap, ncpu int) uint32 {
	return uint32(max(flowCap/256/max(ncpu, 1), 1))
}

// budgetLevel says which budget is in force (see kacctBudget).
type budgetLevel uint8

const (
	budgetStart budgetLevel = iota // kacctStartBudget
	budgetBusy                     // kacctBudget
	budgetFlood                    // kacctFloodBudget
)

// kacctBatch is how many map entries one BPF_MAP_LOOKUP_BATCH call reads.
const kacctBatch = 1024

// kraw is what user space keeps about one entry of the kernel's flow map: the counters as
// of the last read, from which the interval's deltas are taken.
type kraw struct {
	f              int32 // index of its flow in kacct.flowT; -1: counted in overflow
	tx             bool  // the key's source is the flow's Local endpoint
	bytes, packets uint64
	hs             uint16
	last           int64  // monotonic ns
	seen           uint64 // kacct.seq of the last read that found the entry
}

// kflow is one oriented flow (FlowKey) made of one or two kernel entries.
type kflow struct {
	key         FlowKey
	dirs        int    // kraw entries that point here
	hs          uint16 // handshake facts since the flow was first seen, ICMP marks included
	first, last int64  // monotonic ns
	ivl         uint64 // kacct.seq of the interval that has a delta for it at idx
	idx         int
	life        uint8 // packets since the flow was first seen, saturating at 255
	flags       uint8 // TCP flags of all its intervals
}

// fleeting says whether the flow is not worth a row when the table is crowded, as
// flowEntry.fleeting: TCP, at most 2 packets in its life, handshake packets only (its facts
// hold no ACK nor ICMP mark and its flags no FIN, PSH or URG: a SYN, its SYN-ACK, a RST), and
// no delta in the read seq, so that all it counted was emitted. The kernel keeps flags per
// interval, not per packet: a segment without any flag beside a SYN passes for a handshake.
func (f *kflow) fleeting(seq uint64) bool {
	const handshake = HsSynIn | HsSynOut | HsSynAckIn | HsSynAckOut | HsRstIn | HsRstOut
	return f.key.Proto == protoTCP && f.life <= 2 && f.hs != 0 && f.hs&^handshake == 0 &&
		f.flags&^(tcpSYN|tcpACK|tcpRST) == 0 && f.ivl != seq
}

// kacct is the kernel's flow accounting on one interface: the program attached to its
// ingress and egress (tcx links: detached when the descriptors close, also when the process
// dies) and the user-space state that turns its cumulative counters into deltas.
type kacct struct {
	iface   string
	prog    *ebpf.Program
	flows   *ebpf.Map
	unreach *ebpf.Map
	totals  *ebpf.Map
	ctl     *ebpf.Map
	victims *ebpf.Map
	links   []link.Link
	ncpu    int
	// The budgets of new entries per CPU and interval, kctl.Budget for each level (see
	// kacctBudget): budget for a busy server, startBudget, floodBudget.
	budget, startBudget, floodBudget uint32
	level                            budgetLevel
	pinned                           bool // budgetBusy whatever the reads find (keepFullBudget)
	flood                            bool // the last read found SYNs over the budget, most not completed
	// vsyns and vacks are this read's SYNs aggregated for victims and completed handshakes.
	vsyns, vacks uint64

	vprev map[kvkey]*kvprev // the victims' sums as of the last read
	vvals []kvval

	gen uint32 // the interval generation the program writes TCP flags for
	seq uint64 // reads so far
	// The state lives in slabs indexed from the maps, reused through free lists: a flood of
	// new flows costs map inserts, not allocations the collector must trace.
	raw      map[kkey]int32 // index into rawT
	rawT     []kraw
	rawFree  []int32
	agg      map[fkey]int32 // index into flowT, by the oriented key
	flowT    []kflow
	flowFree []int32
	flowCap  int       // oriented flows at most, as the libpcap path's table
	over     FlowDelta // this read's deltas of the entries beyond flowCap
	nflows   int       // flows in the last read, to size the next
	keys     []kkey
	vals     []kval
	tot      []ktotals
	del      []kkey

	prevOther Counter
	emitted   Counter // packets and bytes of the flows' deltas and of overflow, since the start
	stats     Stats

	detachOnce, closeOnce sync.Once
}

// openKacct loads the program with a map for 2*flowCap entries (a flow's two directions
// are two entries) and attaches it to iface: ingress and egress, or only ingress on a
// loopback interface, where every packet passes both. Errors say why, for the status.
func openKacct(iface string, flowCap int) (*kacct, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", iface, err)
	}
	k, err := loadKacct(flowCap)
	if err != nil {
		return nil, err
	}
	hooks := []ebpf.AttachType{ebpf.AttachTCXIngress, ebpf.AttachTCXEgress}
	if ifi.Flags&net.FlagLoopback != 0 {
		hooks = hooks[:1]
	}
	for _, at := range hooks {
		l, err := link.AttachTCX(link.TCXOptions{Interface: ifi.Index, Program: k.prog, Attach: at})
		if err != nil {
			k.close()
			return nil, fmt.Errorf("attach flow program to %s (tcx): %w", iface, kacctPerm(err))
		}
		k.links = append(k.links, l)
	}
	k.iface = iface
	return k, nil
}

// loadKacct loads the program and its maps, attached nowhere.
func loadKacct(flowCap int) (*kacct, error) {
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(flowAcctObj))
	if err != nil {
		return nil, fmt.Errorf("flow program: %w", err)
	}
	if ms := spec.Maps["flows"]; ms != nil {
		ms.MaxEntries = uint32(2 * flowCap)
	}
	var objs struct {
		Prog    *ebpf.Program `ebpf:"flowacct"`
		Flows   *ebpf.Map     `ebpf:"flows"`
		Unreach *ebpf.Map     `ebpf:"unreach"`
		Totals  *ebpf.Map     `ebpf:"totals"`
		Ctl     *ebpf.Map     `ebpf:"ctl"`
		Victims *ebpf.Map     `ebpf:"victims"`
	}
	if err := spec.LoadAndAssign(&objs, nil); err != nil {
		return nil, fmt.Errorf("load flow program: %w", kacctPerm(err))
	}
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		ncpu = 1
	}
	k := &kacct{
		prog: objs.Prog, flows: objs.Flows, unreach: objs.Unreach, totals: objs.Totals, ctl: objs.Ctl, victims: objs.Victims,
		ncpu: ncpu, budget: kacctBudget(flowCap, ncpu), startBudget: kacctStartBudget(flowCap, ncpu), floodBudget: kacctFloodBudget(flowCap, ncpu),
		raw: make(map[kkey]int32), agg: make(map[fkey]int32), flowCap: flowCap,
		keys: make([]kkey, kacctBatch), vals: make([]kval, kacctBatch*ncpu), tot: make([]ktotals, ncpu),
		vprev: make(map[kvkey]*kvprev), vvals: make([]kvval, ncpu),
	}
	if err := k.ctl.Update(uint32(0), kctl{Gen: k.gen, Budget: k.curBudget()}, ebpf.UpdateAny); err != nil {
		k.close()
		return nil, fmt.Errorf("flow program: %w", err)
	}
	return k, nil
}

// kacctPerm makes a permission error say which capabilities the kernel path needs.
func kacctPerm(err error) error {
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("needs CAP_BPF and CAP_NET_ADMIN: %w", err)
	}
	return err
}

// detach removes the program from the interface: the counters stop moving.
func (k *kacct) detach() {
	k.detachOnce.Do(func() {
		for _, l := range k.links {
			_ = l.Close()
		}
	})
}

// close detaches the program and releases the maps.
func (k *kacct) close() {
	k.detach()
	k.closeOnce.Do(func() {
		for _, c := range []interface{ Close() error }{k.prog, k.flows, k.unreach, k.totals, k.ctl, k.victims} {
			if c != nil {
				_ = c.Close()
			}
		}
	})
}

// monoNow is CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns, in nanoseconds.
func monoNow() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// read takes the interval's deltas out of the kernel's maps: every flow whose counters
// grew since the last read (or that an ICMP port unreachable marked), the packets without
// an IP flow, and the totals. Entries silent for longer than idle are deleted (both in the
// kernel and here); entries the kernel's LRU evicted are forgotten. The packets the program
// counted that no flow's delta holds (those an entry had when the LRU evicted it to make
// room, when the table is full) are in overflow, as towards Local (rx): totals add up, as
// with the libpcap path, though the kernel cannot say the direction.
//
// abort (nil: never) is asked between chunks of the map: a read under a flood of new flows
// takes a few hundred milliseconds, and a capture that stops must not wait for it. An
// aborted read returns what it read; it forgets nothing, so that the next read counts the
// rest. final says no read follows: the packets of the entries not read go to overflow.
func (k *kacct) read(ls *localSet, idle time.Duration, abort func() bool, final bool) (flows []FlowDelta, overflow FlowDelta, other Counter, err error) {
	// The totals first: whatever arrives while the flows are read is in the flows and
	// not yet in the totals, so that overflow is never counted ahead.
	var t ktotals
	if err := k.totals.Lookup(uint32(0), k.tot); err != nil {
		return nil, overflow, other, fmt.Errorf("flow program: read totals: %w", err)
	}
	for _, c := range k.tot {
		t.Packets += c.Packets
		t.Bytes += c.Bytes
		t.OtherPackets += c.OtherPackets
		t.OtherBytes += c.OtherBytes
	}
	other = Counter{Packets: t.OtherPackets - k.prevOther.Packets, Bytes: t.OtherBytes - k.prevOther.Bytes}
	k.prevOther = Counter{Packets: t.OtherPackets, Bytes: t.OtherBytes}
	k.stats.Received = t.Packets
	k.seq++
	g := k.gen
	k.gen++
	// From here on the program writes TCP flags into the other slot: the slot of g holds
	// the interval's flags, whatever arrives while we read.
	if err := k.ctl.Update(uint32(0), kctl{Gen: k.gen, Budget: k.curBudget()}, ebpf.UpdateAny); err != nil {
		return nil, overflow, other, fmt.Errorf("flow program: %w", err)
	}
	mono := monoNow()
	wallOff := time.Now().UnixNano() - mono
	cutoff := mono - int64(idle)
	slot := g & 1
	flows = make([]FlowDelta, 0, k.nflows+k.nflows/4)
	k.del = k.del[:0]
	if err := k.readVictims(&flows); err != nil {
		return nil, overflow, other, err
	}
	k.flood = k.vsyns > 0 && 2*k.vacks < k.vsyns
	level := k.level
	switch {
	case k.pinned:
		level = budgetBusy
	case k.flood:
		level = budgetFlood
	case k.vsyns > 0:
		level = budgetBusy
	case level == budgetFlood:
		level = budgetStart
	}
	if level != k.level {
		// The interval that has just begun gets the budget this read calls for.
		k.level = level
		if err := k.ctl.Update(uint32(0), kctl{Gen: k.gen, Budget: k.curBudget()}, ebpf.UpdateAny); err != nil {
			return nil, overflow, other, fmt.Errorf("flow program: %w", err)
		}
	}
	var cursor ebpf.MapBatchCursor
	aborted := false
	for {
		n, err := k.flows.BatchLookup(&cursor, k.keys, k.vals, nil)
		for i := range n {
			k.entry(&k.keys[i], k.vals[i*k.ncpu:(i+1)*k.ncpu], slot, g, ls, cutoff, &flows)
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			break
		}
		if err != nil {
			return nil, overflow, other, fmt.Errorf("flow program: read flows: %w", err)
		}
		if abort != nil && abort() {
			aborted = true
			break
		}
	}
	if aborted {
		k.deleteEntries()
		k.finishDeltas(flows, wallOff)
		overflow, k.over = k.over, FlowDelta{}
		k.emitted.Packets += overflow.Packets()
		k.emitted.Bytes += overflow.Bytes()
		if final {
			k.unaccounted(&t, &overflow)
		}
		return flows, overflow, other, nil
	}
	k.markUnreachable(ls, &flows)
	k.evict(cutoff)
	k.deleteEntries()
	k.finishDeltas(flows, wallOff)
	k.nflows = len(flows)
	overflow, k.over = k.over, FlowDelta{}
	k.emitted.Packets += overflow.Packets()
	k.emitted.Bytes += overflow.Bytes()
	k.unaccounted(&t, &overflow)
	return flows, overflow, other, nil
}

// evict drops from the user-space state, after a full read, the entries gone from the
// kernel's map (LRU eviction when full), and queues for deletion in k.del the entries idle
// since before cutoff (monotonic ns) and, when the table is crowded (more than 3/4 of
// flowCap flows, as the libpcap path's) or a flood lasts (k.flood), those of the flows not
// worth a row (kflow.fleeting), so that flows that start later find room. A flow with a
// delta in this read is never evicted: its packets are emitted first.
//
// Under a flood the fleeting flows leave at once, crowded or not: every read walks the
// whole kernel map (about 0.5 µs an entry, the batch lookup and the sum of its CPUs), and
// the flood's SYN flows would otherwise stay there for the idle timeout, 2 minutes of
// admitted flows read again every interval.
func (k *kacct) evict(cutoff int64) {
	early := k.flood || crowded(len(k.agg), k.flowCap)
	for key, ri := range k.raw {
		r := &k.rawT[ri]
		if r.seen != k.seq {
			k.forget(key, ri)
		} else if r.last < cutoff && (r.f < 0 || k.flowT[r.f].ivl != k.seq) ||
			early && r.f >= 0 && k.flowT[r.f].fleeting(k.seq) {
			k.del = append(k.del, key)
			k.forget(key, ri)
		}
	}
}

// keepFullBudget pins the full budget (Capture.KeepFullBudget), from now on.
func (k *kacct) keepFullBudget() error {
	k.pinned, k.level = true, budgetBusy
	if err := k.ctl.Update(uint32(0), kctl{Gen: k.gen, Budget: k.curBudget()}, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("flow program: %w", err)
	}
	return nil
}

// curBudget is kctl.Budget for the interval that begins, per CPU (k.budget 0: none).
func (k *kacct) curBudget() uint32 {
	switch k.level {
	case budgetStart:
		return min(k.startBudget, k.budget)
	case budgetFlood:
		return min(k.floodBudget, k.budget)
	}
	return k.budget
}

// readVictims appends a delta for each victim whose counters grew since the last read (at
// most the victim map's 1,024 entries), and forgets the victims the kernel's LRU evicted.
// k.vsyns and k.vacks count the SYNs and completions of those deltas.
func (k *kacct) readVictims(flows *[]FlowDelta) error {
	var key kvkey
	k.vsyns, k.vacks = 0, 0
	it := k.victims.Iterate()
	for it.Next(&key, &k.vvals) {
		k.victim(&key, k.vvals, flows)
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("flow program: read victims: %w", err)
	}
	for key, p := range k.vprev {
		if p.seen != k.seq {
			delete(k.vprev, key)
		}
	}
	return nil
}

// victim turns one victim entry (its per-CPU values in v) into an aggregate row of flows:
// Local the victim, Remote the unspecified address of its family with port 0, the bare
// SYNs towards it as rx (Flows says how many: each stands for a flow not created), the
// SYN-ACKs and RSTs that answered them as tx, flags and handshake facts of the interval.
func (k *kacct) victim(key *kvkey, v []kvval, flows *[]FlowDelta) {
	var sum kvval
	for i := range v {
		c := &v[i]
		sum.InPackets += c.InPackets
		sum.InBytes += c.InBytes
		sum.OutPackets += c.OutPackets
		sum.OutBytes += c.OutBytes
		sum.Syns += c.Syns
		sum.Synacks += c.Synacks
		sum.Rsts += c.Rsts
		sum.Acks += c.Acks
		if c.First != 0 && (sum.First == 0 || c.First < sum.First) {
			sum.First = c.First
		}
		sum.Last = max(sum.Last, c.Last)
	}
	p := k.vprev[*key]
	if p == nil {
		p = &kvprev{}
		k.vprev[*key] = p
	}
	p.seen = k.seq
	prev := p.sum
	if sum.InPackets < prev.InPackets || sum.OutPackets < prev.OutPackets || sum.InBytes < prev.InBytes || sum.OutBytes < prev.OutBytes {
		prev = kvval{} // the kernel's LRU evicted and re-created the entry: count it afresh
	}
	p.sum = sum
	d := FlowDelta{
		RxPackets: sum.InPackets - prev.InPackets, RxBytes: sum.InBytes - prev.InBytes,
		TxPackets: sum.OutPackets - prev.OutPackets, TxBytes: sum.OutBytes - prev.OutBytes,
		First: time.Unix(0, int64(sum.First)), Last: time.Unix(0, int64(sum.Last)),
	}
	acks := uint64(sum.Acks - prev.Acks)
	if sum.Acks < prev.Acks {
		acks = uint64(sum.Acks)
	}
	if d.Packets() == 0 {
		// Only completions (their packets are in the flows they started): kept for the
		// next row of the victim, so that they are not lost.
		p.sum.Acks = prev.Acks
		return
	}
	syns, synacks, rsts := uint64(sum.Syns-prev.Syns), uint64(sum.Synacks-prev.Synacks), uint64(sum.Rsts-prev.Rsts)
	d.Flows = max(syns, synacks+rsts, 1)
	d.FlowsAcked = min(acks, d.Flows)
	k.vsyns += syns
	k.vacks += d.FlowsAcked
	if syns > 0 {
		d.Flags |= tcpSYN
		d.Handshake |= HsSynIn
	}
	if synacks > 0 {
		d.Flags |= tcpSYN | tcpACK
		d.Handshake |= HsSynAckOut
	}
	if rsts > 0 {
		d.Flags |= tcpRST
		d.Handshake |= HsRstOut
	}
	d.Key = victimKey(key)
	*flows = append(*flows, d)
}

// victimKey is the key of a victim's aggregate row: Local the victim, Remote the
// unspecified address of its family with port 0 (the sources are not kept).
func victimKey(key *kvkey) FlowKey {
	a := netip.AddrFrom16(key.Addr)
	unspec := netip.IPv6Unspecified()
	if key.Is4 != 0 {
		a, unspec = a.Unmap(), netip.IPv4Unspecified()
	}
	return FlowKey{Proto: key.Proto, Local: netip.AddrPortFrom(a, key.Port), Remote: netip.AddrPortFrom(unspec, 0)}
}

// deleteEntries deletes the entries of k.del from the kernel's map.
func (k *kacct) deleteEntries() {
	if len(k.del) == 0 {
		return
	}
	if _, err := k.flows.BatchDelete(k.del, nil); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		for i := range k.del {
			_ = k.flows.Delete(&k.del[i])
		}
	}
}

// finishDeltas turns the deltas' monotonic times into wall-clock times and counts them as
// emitted.
func (k *kacct) finishDeltas(flows []FlowDelta, wallOff int64) {
	for i := range flows {
		d := &flows[i]
		d.First = time.Unix(0, d.First.UnixNano()+wallOff)
		d.Last = time.Unix(0, d.Last.UnixNano()+wallOff)
		k.emitted.Packets += d.Packets()
		k.emitted.Bytes += d.Bytes()
	}
}

// unaccounted adds to overflow the packets of the totals t that no delta has carried.
func (k *kacct) unaccounted(t *ktotals, overflow *FlowDelta) {
	ipP, ipB := t.Packets-t.OtherPackets, t.Bytes-t.OtherBytes
	if ipP > k.emitted.Packets {
		overflow.RxPackets += ipP - k.emitted.Packets
		k.emitted.Packets = ipP
	}
	if ipB > k.emitted.Bytes {
		overflow.RxBytes += ipB - k.emitted.Bytes
		k.emitted.Bytes = ipB
	}
}

// entry accounts one entry of the flow map (its per-CPU values in v) into flows.
func (k *kacct) entry(key *kkey, v []kval, slot uint32, g uint32, ls *localSet, cutoff int64, flows *[]FlowDelta) {
	var sum kval
	var flags uint8
	for i := range v {
		c := &v[i]
		sum.Bytes += c.Bytes
		sum.Packets += c.Packets
		if c.First != 0 && (sum.First == 0 || c.First < sum.First) {
			sum.First = c.First
		}
		sum.Last = max(sum.Last, c.Last)
		sum.Hs |= c.Hs
		if c.Fgen[slot] == g {
			flags |= c.Iflags[slot]
		}
	}
	ri, ok := k.raw[*key]
	if !ok {
		if ri = k.newRaw(key, ls); ri < 0 {
			// A new flow and the table full: its packets are overflow, and the entry is
			// deleted, so that a flood of new flows is read once, not every interval.
			// Packets that reach it before the delete are overflow too (unaccounted).
			k.over.RxPackets += sum.Packets
			k.over.RxBytes += sum.Bytes
			k.over.Flags |= flags
			k.del = append(k.del, *key)
			return
		}
	}
	r := &k.rawT[ri]
	r.seen = k.seq
	if sum.Packets < r.packets || sum.Bytes < r.bytes {
		// The kernel deleted and re-created the entry (LRU): count it afresh.
		r.packets, r.bytes = 0, 0
	}
	dp, db := sum.Packets-r.packets, sum.Bytes-r.bytes
	r.packets, r.bytes, r.last = sum.Packets, sum.Bytes, int64(sum.Last)
	if r.f < 0 {
		o := &k.over
		if r.tx {
			o.TxPackets += dp
			o.TxBytes += db
		} else {
			o.RxPackets += dp
			o.RxBytes += db
		}
		o.Flags |= flags
		return
	}
	hs := sum.Hs
	if r.tx {
		hs <<= 1
	}
	f := &k.flowT[r.f]
	f.hs |= hs
	if int64(sum.First) < f.first || f.first == 0 {
		f.first = int64(sum.First)
	}
	f.last = max(f.last, int64(sum.Last))
	f.life = uint8(min(uint64(f.life)+dp, 255))
	f.flags |= flags
	if dp == 0 && flags == 0 {
		return
	}
	d := k.delta(f, flows)
	if r.tx {
		d.TxPackets += dp
		d.TxBytes += db
	} else {
		d.RxPackets += dp
		d.RxBytes += db
	}
	d.Flags |= flags
	d.Handshake = f.hs
	d.First, d.Last = time.Unix(0, f.first), time.Unix(0, f.last)
}

// delta returns f's delta in flows, appending it for the first entry of the interval.
func (k *kacct) delta(f *kflow, flows *[]FlowDelta) *FlowDelta {
	if f.ivl != k.seq || f.idx >= len(*flows) {
		f.ivl, f.idx = k.seq, len(*flows)
		*flows = append(*flows, FlowDelta{Key: f.key})
	}
	return &(*flows)[f.idx]
}

// newRaw orients a new kernel entry and joins it to its flow; -1 when the flow is new and
// the table holds flowCap flows.
func (k *kacct) newRaw(key *kkey, ls *localSet) int32 {
	src, dst := key.addrs()
	var fk FlowKey
	tx := orient(ls, key.Proto, src, key.Sport, dst, key.Dport, &fk)
	ak := toFkey(&fk)
	fi, ok := k.agg[ak]
	if !ok && len(k.agg) >= k.flowCap {
		// The table is full, as the libpcap path's would be: batches never hold more
		// than flowCap flows.
		return -1
	}
	if !ok {
		fi = slabGet(&k.flowT, &k.flowFree)
		k.flowT[fi] = kflow{key: fk}
		k.agg[ak] = fi
	}
	k.flowT[fi].dirs++
	ri := slabGet(&k.rawT, &k.rawFree)
	k.rawT[ri] = kraw{f: fi, tx: tx}
	k.raw[*key] = ri
	return ri
}

// slabGet returns a free index of *slab, growing it when none is free.
func slabGet[T any](slab *[]T, free *[]int32) int32 {
	if n := len(*free); n > 0 {
		i := (*free)[n-1]
		*free = (*free)[:n-1]
		return i
	}
	var zero T
	*slab = append(*slab, zero)
	return int32(len(*slab) - 1)
}

// forget drops a kernel entry from the user-space state.
func (k *kacct) forget(key kkey, ri int32) {
	delete(k.raw, key)
	fi := k.rawT[ri].f
	k.rawFree = append(k.rawFree, ri)
	if fi < 0 {
		return
	}
	f := &k.flowT[fi]
	if f.dirs--; f.dirs <= 0 {
		delete(k.agg, toFkey(&f.key))
		k.flowFree = append(k.flowFree, fi)
	}
}

// addrs returns the key's source and destination addresses.
func (key *kkey) addrs() (src, dst netip.Addr) {
	src, dst = netip.AddrFrom16(key.Src), netip.AddrFrom16(key.Dst)
	if key.Is4 != 0 {
		src, dst = src.Unmap(), dst.Unmap()
	}
	return src, dst
}

// markUnreachable reads (and deletes) the ICMP port unreachable messages the program saw and
// marks the flows they quote, as loop.unreachable does: a flow that is not known is not
// created.
func (k *kacct) markUnreachable(ls *localSet, flows *[]FlowDelta) {
	var (
		key  kkey
		cnt  uint64
		keys []kkey
	)
	it := k.unreach.Iterate()
	for it.Next(&key, &cnt) {
		keys = append(keys, key)
	}
	for i := range keys {
		if err := k.unreach.LookupAndDelete(&keys[i], &cnt); err != nil {
			continue
		}
		src, dst := keys[i].addrs()
		var fk FlowKey
		probeTx := orient(ls, keys[i].Proto, src, keys[i].Sport, dst, keys[i].Dport, &fk)
		fi, ok := k.agg[toFkey(&fk)]
		if !ok {
			continue
		}
		f := &k.flowT[fi]
		bit := HsUnreachOut
		if probeTx {
			bit = HsUnreachIn
		}
		f.hs |= bit
		d := k.delta(f, flows)
		d.Handshake = f.hs
		d.First, d.Last = time.Unix(0, f.first), time.Unix(0, f.last)
	}
}

// kacctLinkOK says whether the program can decode iface's packets: it reads an Ethernet
// header, which Ethernet interfaces (ARPHRD_ETHER, veth, bridges, VLAN devices) and lo
// (ARPHRD_LOOPBACK) have; tunnels and "any" do not.
func kacctLinkOK(iface string) error {
	if iface == "any" {
		return errors.New(`"any" is not one interface`)
	}
	b, err := os.ReadFile("/sys/class/net/" + iface + "/type")
	if err != nil {
		return err
	}
	switch t := string(bytes.TrimSpace(b)); t {
	case "1", "772":
		return nil
	default:
		return fmt.Errorf("link type %s is not Ethernet", t)
	}
}
