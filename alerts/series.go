package alerts

import (
	"math"
	"slices"
	"sort"
	"time"
)

// maxRecent bounds the readings the engine keeps of one vital of one
// patient: an hour (news2Window) at a little over one a second. The
// simulated devices send a vital every 5 s at the fastest, a patient's
// watch and patch together well under this; a device or gateway that
// floods (hundreds a second) keeps only its last maxRecent readings, so a
// patient's state stays under maxPatientBytes whatever the rate.
const maxRecent = 4096

// maxPatientBytes is the most the readings of one patient's state take:
// a vital's buffer grows only while it is full of readings kept, so past
// twice maxRecent never (see series.add), and its sorted window holds 32.
const maxPatientBytes = numVitals * (2*(maxRecent+1)*(16+8+8) + 64*8)

// series is one vital's readings of a patient, in time order: the last
// news2Window of them, at most maxRecent. It keeps the values of the
// smoothing window at its newest reading sorted, so that the median a
// rule reads for a new reading costs a binary search and a short move
// instead of a sort per rule (the window holds at most 32 readings).
type series struct {
	buf  []sample
	head int   // buf[head:] are the readings kept
	off  int64 // the absolute number of buf[head]: readings dropped before it

	// sorted holds the values of the absolute readings [wlo, wend), the
	// window (see window) at the newest reading, when ok.
	sorted    []float64
	wlo, wend int64
	ok        bool
	// reference (tests) sorts the window at each query, as the engine
	// did before the sorted window: what the incremental one must equal.
	reference bool

	// For a vital a rate rule reads: the absolute numbers of the readings
	// that are the lowest (mins) and highest (maxs) of every suffix of the
	// readings kept, oldest first, when rangeOK. The lowest reading since
	// a time is then the first of mins at or after it: a binary search
	// instead of a scan of the hour.
	ranged       bool
	rangeOK      bool
	mins, maxs   []int64
	minHd, maxHd int
}

// samples returns the readings kept, oldest first. The slice is valid
// until the next add.
func (s *series) samples() []sample { return s.buf[s.head:] }

// add keeps a reading in time order (an out-of-order arrival slots in),
// then drops the readings more than news2Window older than it and the
// oldest past maxRecent.
func (s *series) add(rt int64, v float64) {
	ss := s.samples()
	i := len(ss)
	if i > 0 && ss[i-1].t > rt {
		i = sort.Search(len(ss), func(i int) bool { return ss[i].t > rt })
	}
	if len(s.buf) == cap(s.buf) && s.head > 0 {
		// Reuse the room of the readings dropped rather than grow.
		n := copy(s.buf, s.buf[s.head:])
		s.buf = s.buf[:n]
		s.head = 0
	}
	s.buf = append(s.buf, sample{})
	ss = s.buf[s.head:]
	copy(ss[i+1:], ss[i:])
	ss[i] = sample{rt, v}
	if i == len(ss)-1 && s.ok {
		s.slide(ss)
	} else {
		s.ok = false
	}
	if i == len(ss)-1 && s.rangeOK {
		s.pushRange(ss)
	} else {
		s.rangeOK = false
	}
	cut := 0
	for cut < len(ss) && (rt-ss[cut].t > int64(news2Window) || len(ss)-cut > maxRecent) {
		cut++
	}
	s.head += cut
	s.off += int64(cut)
	if s.ok && s.wlo < s.off {
		s.ok = false // cannot happen while maxRecent > 32 and the window is within the hour; kept safe
	}
	if s.rangeOK {
		for s.minHd < len(s.mins) && s.mins[s.minHd] < s.off {
			s.minHd++
		}
		for s.maxHd < len(s.maxs) && s.maxs[s.maxHd] < s.off {
			s.maxHd++
		}
	}
}

// pushRange puts the newest reading of ss, just appended, into the
// suffix minima and maxima: the readings it outdoes leave them.
func (s *series) pushRange(ss []sample) {
	n := len(ss) - 1
	v, a := ss[n].v, s.off+int64(n)
	for len(s.mins) > s.minHd && ss[s.mins[len(s.mins)-1]-s.off].v >= v {
		s.mins = s.mins[:len(s.mins)-1]
	}
	for len(s.maxs) > s.maxHd && ss[s.maxs[len(s.maxs)-1]-s.off].v <= v {
		s.maxs = s.maxs[:len(s.maxs)-1]
	}
	s.mins, s.minHd = pushCompact(s.mins, s.minHd, a)
	s.maxs, s.maxHd = pushCompact(s.maxs, s.maxHd, a)
}

// pushCompact appends to q[hd:], reusing the room before hd when q is
// full, so that q stays within twice the readings kept.
func pushCompact(q []int64, hd int, a int64) ([]int64, int) {
	if len(q) == cap(q) && hd > 0 {
		q = q[:copy(q, q[hd:])]
		hd = 0
	}
	return append(q, a), hd
}

// rangeSince returns the lowest and highest reading at or before t and
// at most w older than it (both ends included), and false when there is
// none. t is usually the newest reading's time: then it is a binary
// search; otherwise, or for the reference, a scan.
func (s *series) rangeSince(t int64, w time.Duration) (lo, hi float64, ok bool) {
	ss := s.samples()
	if n := len(ss); n == 0 || ss[n-1].t != t || s.reference {
		lo, hi = math.Inf(1), math.Inf(-1)
		for _, x := range ss {
			if x.t <= t && t-x.t <= int64(w) {
				lo, hi, ok = min(lo, x.v), max(hi, x.v), true
			}
		}
		return lo, hi, ok
	}
	if !s.ranged || !s.rangeOK {
		// First read by a rate rule, or after a late reading: rebuild.
		s.ranged, s.rangeOK = true, true
		s.mins, s.maxs, s.minHd, s.maxHd = s.mins[:0], s.maxs[:0], 0, 0
		for i := range ss {
			s.pushRange(ss[:i+1])
		}
	}
	from := t - int64(w)
	first := func(q []int64) float64 {
		j := sort.Search(len(q), func(j int) bool { return ss[q[j]-s.off].t >= from })
		return ss[q[j]-s.off].v // the newest reading (at t) is in both
	}
	return first(s.mins[s.minHd:]), first(s.maxs[s.maxHd:]), true
}

// slide moves the sorted window to the newest reading of ss, just
// appended: the readings that left it are taken out, the new one put in.
func (s *series) slide(ss []sample) {
	lo, end := window(ss, ss[len(ss)-1].t)
	alo, aend := s.off+int64(lo), s.off+int64(end)
	if alo < s.wlo || aend != s.wend+1 {
		s.ok = false
		return
	}
	for a := s.wlo; a < alo; a++ {
		v := ss[a-s.off].v
		j := sort.SearchFloat64s(s.sorted, v)
		s.sorted = append(s.sorted[:j], s.sorted[j+1:]...)
	}
	v := ss[len(ss)-1].v
	j := sort.SearchFloat64s(s.sorted, v)
	s.sorted = slices.Insert(s.sorted, j, v)
	s.wlo, s.wend = alo, aend
}

// median is the median of the window at t (see window); false when it is
// empty.
func (s *series) median(t int64) (float64, bool) {
	ss := s.samples()
	if n := len(ss); n > 0 && ss[n-1].t == t && !s.reference {
		if !s.ok {
			lo, end := window(ss, t)
			s.sorted = s.sorted[:0]
			for _, x := range ss[lo:end] {
				s.sorted = append(s.sorted, x.v)
			}
			slices.Sort(s.sorted)
			s.wlo, s.wend, s.ok = s.off+int64(lo), s.off+int64(end), true
		}
		return middle(s.sorted)
	}
	lo, end := window(ss, t)
	var buf [32]float64
	xs := buf[:0]
	for _, x := range ss[lo:end] {
		xs = append(xs, x.v)
	}
	// insertion sort: the window holds a handful of samples
	for i := 1; i < len(xs); i++ {
		for j := i; j > 0 && xs[j] < xs[j-1]; j-- {
			xs[j], xs[j-1] = xs[j-1], xs[j]
		}
	}
	return middle(xs)
}

// middle is the median of sorted values.
func middle(xs []float64) (float64, bool) {
	n := len(xs)
	if n == 0 {
		return 0, false
	}
	if n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2, true
	}
	return xs[n/2], true
}

// bytes is the memory the series holds.
func (s *series) bytes() int {
	return cap(s.buf)*16 + cap(s.sorted)*8 + cap(s.mins)*8 + cap(s.maxs)*8
}
