package monitor

import "time"

// Windows are the averaging windows of a Series, like iftop's 2s/10s/40s columns.
var Windows = [3]time.Duration{2 * time.Second, 10 * time.Second, 40 * time.Second}

// WindowNames are the labels of Windows, as the JSON and the UI show them.
var WindowNames = [3]string{"2s", "10s", "40s"}

type point struct {
	bytes   uint64
	elapsed time.Duration
}

// Series is a byte counter observed once per interval: it keeps the current rate, session
// figures like nload (average, minimum, maximum, total) and the windowed averages, plus a
// bounded history of rates for charts.
type Series struct {
	Cur   float64 // bytes per second over the last interval
	Avg   float64 // bytes per second over the session
	Min   float64 // lowest interval rate of the session, bytes per second
	Max   float64 // highest interval rate of the session, bytes per second
	Total uint64  // bytes over the session
	Last  uint64  // bytes in the last interval

	elapsed time.Duration
	n       int
	recent  []point   // ring of the last intervals, enough to cover the longest window
	rhead   int       // next write position in recent
	hist    []float64 // ring of interval rates for charts
	hhead   int
	hlen    int
}

func newSeries(historyLen int) *Series {
	if historyLen <= 0 {
		historyLen = 300
	}
	return &Series{hist: make([]float64, historyLen), recent: make([]point, 0, 512)}
}

// add records the bytes of one interval of length elapsed.
func (s *Series) add(bytes uint64, elapsed time.Duration) {
	s.Last = bytes
	s.Total += bytes
	s.elapsed += elapsed
	rate := 0.0
	if elapsed > 0 {
		rate = float64(bytes) / elapsed.Seconds()
	}
	s.Cur = rate
	if s.n == 0 || rate < s.Min {
		s.Min = rate
	}
	if rate > s.Max {
		s.Max = rate
	}
	s.n++
	if s.elapsed > 0 {
		s.Avg = float64(s.Total) / s.elapsed.Seconds()
	}
	// keep enough points to cover the longest window, bounded
	if len(s.recent) < cap(s.recent) {
		s.recent = append(s.recent, point{bytes, elapsed})
	} else {
		s.recent[s.rhead] = point{bytes, elapsed}
	}
	s.rhead = (s.rhead + 1) % cap(s.recent)
	s.hist[s.hhead] = rate
	s.hhead = (s.hhead + 1) % len(s.hist)
	if s.hlen < len(s.hist) {
		s.hlen++
	}
}

// Window returns the average rate in bytes per second over the most recent intervals that fit
// in d (at least the last interval).
func (s *Series) Window(d time.Duration) float64 {
	var bytes uint64
	var el time.Duration
	n := len(s.recent)
	for i := 0; i < n; i++ {
		p := s.recent[(s.rhead-1-i+2*n)%n]
		if i > 0 && el+p.elapsed > d+d/4 {
			break
		}
		bytes += p.bytes
		el += p.elapsed
	}
	if el <= 0 {
		return 0
	}
	return float64(bytes) / el.Seconds()
}

// History returns up to n of the latest interval rates, oldest first, into dst.
func (s *Series) History(dst []float64, n int) []float64 {
	if n > s.hlen || n <= 0 {
		n = s.hlen
	}
	dst = dst[:0]
	for i := n; i > 0; i-- {
		dst = append(dst, s.hist[(s.hhead-i+len(s.hist))%len(s.hist)])
	}
	return dst
}

// Len returns how many intervals the series has recorded.
func (s *Series) Len() int { return s.n }
