package capture

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"
)

// FuzzPcapFile reads arbitrary bytes with pcapFile (its buffer small, so
// that packets cross buffer fills and take the large-packet path) and with
// pcapgo: both accept the same files and return the same packets, and
// stop at the same record.
func FuzzPcapFile(f *testing.F) {
	files, _ := filepath.Glob("../testdata/pcap/*.pcap")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[:min(len(data), 2000)])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
			return // gzip: pcapgo only
		}
		p, err := newPcapFile(bufio.NewReaderSize(bytes.NewReader(data), 4096))
		if len(data) >= 24 && max(binary.LittleEndian.Uint32(data[16:]), binary.BigEndian.Uint32(data[16:])) > 1<<20 {
			// pcapgo allocates a buffer as large as the header's snaplen (up to 4 GiB)
			// for every file, which made the fuzzer crawl: read such files with
			// pcapFile alone, which must not panic (TestPcapFileHugeSnaplen: nor
			// allocate by the snaplen).
			for i := 0; err == nil && i < 1000; i++ {
				_, _, err = p.ZeroCopyReadPacketData()
			}
			return
		}
		r, gerr := pcapgo.NewReader(bytes.NewReader(data))
		if err != nil {
			if gerr == nil && p == nil && len(data) >= 24 {
				// pcapgo takes link types with the FCS bits; we do too, so
				// only a rejected magic or version may differ.
				t.Fatalf("pcapgo opens what newPcapFile refuses: %v", err)
			}
			return
		}
		if gerr != nil {
			t.Fatalf("newPcapFile opens what pcapgo refuses: %v", gerr)
		}
		off := 24 // of the record in data
		for i := 0; ; i++ {
			d1, c1, e1 := p.ZeroCopyReadPacketData()
			d2, c2, e2 := r.ZeroCopyReadPacketData()
			if (e1 == nil) != (e2 == nil) {
				t.Fatalf("packet %d: pcapFile %v, pcapgo %v", i, e1, e2)
			}
			if e1 != nil {
				// Both stop here. (pcapgo says io.EOF for a record whose
				// data is missing entirely; the pcapFile says
				// io.ErrUnexpectedEOF, as libpcap calls it truncated.)
				if errors.Is(e1, io.EOF) && !errors.Is(e2, io.EOF) {
					t.Fatalf("packet %d: pcapFile %v, pcapgo %v", i, e1, e2)
				}
				return
			}
			if !bytes.Equal(d1, d2) || c1.Length != c2.Length || c1.CaptureLength != c2.CaptureLength {
				t.Fatalf("packet %d differs: %+v vs %+v", i, c1, c2)
			}
			// pcapgo scales the sub-second field in 32 bits, which overflows
			// for invalid values (a microsecond field above 4,294,967):
			// compare timestamps only where it does not.
			sub := int64(p.order.Uint32(data[off+4:]))
			off += 16 + len(d1)
			if sub*p.nanos < 1<<32 {
				if !c1.Timestamp.Equal(c2.Timestamp) {
					t.Fatalf("packet %d: timestamp %v, pcapgo %v", i, c1.Timestamp, c2.Timestamp)
				}
			}
		}
	})
}

// TestPcapFileHugeSnaplen reads a file whose header claims a snaplen of 2 GiB: the
// packets come out and the reader allocates by what it reads, not by the snaplen.
func TestPcapFileHugeSnaplen(t *testing.T) {
	var file bytes.Buffer
	le := binary.LittleEndian
	for _, v := range []any{uint32(0xa1b2c3d4), uint16(2), uint16(4), int32(0), uint32(0), uint32(0x7fffffff), uint32(1)} {
		_ = binary.Write(&file, le, v)
	}
	for i := range 3 {
		for _, v := range []uint32{uint32(i + 1), 0, 60, 60} {
			_ = binary.Write(&file, le, v)
		}
		file.Write(make([]byte, 60))
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	p, err := newPcapFile(bufio.NewReader(bytes.NewReader(file.Bytes())))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		data, ci, err := p.ZeroCopyReadPacketData()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("packet %d: %v", n, err)
			}
			break
		}
		if len(data) != 60 || ci.Length != 60 {
			t.Fatalf("packet %d: %d bytes, length %d", n, len(data), ci.Length)
		}
		n++
	}
	runtime.ReadMemStats(&after)
	if n != 3 {
		t.Errorf("read %d packets, want 3", n)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("reading allocated %d bytes for a 2 GiB snaplen", got)
	}
}
