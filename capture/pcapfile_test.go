package capture

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
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
