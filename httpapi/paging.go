package httpapi

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vitalwire/vitalwire/vitals"
)

// PageConfig bounds what one answer about a patient's history holds: the
// readings API, FHIR Observation search and Patient/$everything answer a
// page at a time with a link to the next, so that a read of years of
// readings costs no more memory or time per request than a page.
type PageConfig struct {
	// Size is the page size when the caller names none (default 1000).
	Size int `yaml:"page_size"`
	// MaxSize is the largest page a caller may ask for (default 10000).
	MaxSize int `yaml:"max_page_size"`
}

// DefaultPageConfig is 1,000 readings a page, at most 10,000.
func DefaultPageConfig() PageConfig { return PageConfig{Size: 1000, MaxSize: 10_000} }

// Validate checks the settings and names the bad field.
func (p PageConfig) Validate() error {
	switch {
	case p.MaxSize < 1 || p.MaxSize > 100_000:
		return errors.New("max_page_size: 1-100000")
	case p.Size < 1 || p.Size > p.MaxSize:
		return errors.New("page_size: 1 to max_page_size")
	}
	return nil
}

func (p PageConfig) orDefault() PageConfig {
	if p == (PageConfig{}) {
		return DefaultPageConfig()
	}
	return p
}

// pageSize reads a page size parameter (absent: def).
func (p PageConfig) pageSize(s, name string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > p.MaxSize {
		return 0, fmt.Errorf("%s: 1-%d", name, p.MaxSize)
	}
	return n, nil
}

// A page of readings ends on a change of time, so that the next page can
// start at a time: readings of one time (several devices) are never split
// across pages. Only when more than a page of readings share one instant
// (as many devices of one patient, one type and one nanosecond) does a
// page end inside it, and the rest of that instant is skipped.

// errBadCursor: a cursor that is not of the query it came with.
var errBadCursor = errors.New("cursor: not of this query; follow the next link as given")

// readingsCursor is where the next page of the readings API starts: a
// type of the query's, at a time. Its text is "type.unixnano".
type readingsCursor struct {
	typ vitals.Type
	at  time.Time
}

func (c readingsCursor) String() string {
	return string(c.typ) + "." + strconv.FormatInt(c.at.UnixNano(), 10)
}

func parseReadingsCursor(s string) (readingsCursor, error) {
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return readingsCursor{}, errors.New("cursor: as the next link gives it")
	}
	ns, err := strconv.ParseInt(s[i+1:], 10, 64)
	if err != nil {
		return readingsCursor{}, errors.New("cursor: as the next link gives it")
	}
	return readingsCursor{typ: vitals.Type(s[:i]), at: time.Unix(0, ns).UTC()}, nil
}

// oldestPage reads up to limit readings of types in [from, to), type by
// type in order, each oldest first, from cursor on (nil: the start). next
// is nil on the last page.
func oldestPage(ctx context.Context, store vitals.Store, patient string, types []vitals.Type, from, to time.Time,
	cursor *readingsCursor, limit int) (out []vitals.Reading, next *readingsCursor, err error) {
	start := 0
	if cursor != nil {
		start = -1
		for i, t := range types {
			if t == cursor.typ {
				start = i
			}
		}
		if start < 0 || cursor.at.Before(from) || !cursor.at.Before(to) {
			return nil, nil, errBadCursor
		}
	}
	for i := start; i < len(types); i++ {
		f := from
		if cursor != nil && i == start {
			f = cursor.at
		}
		need := limit - len(out)
		rs, err := store.Range(ctx, vitals.Query{Patient: patient, Type: types[i], From: f, To: to, Limit: need + 1})
		if err != nil {
			return nil, nil, err
		}
		if len(rs) <= need {
			out = append(out, rs...)
			continue
		}
		b := rs[need].Time
		keep := rs[:need]
		for len(keep) > 0 && keep[len(keep)-1].Time.Equal(b) {
			keep = keep[:len(keep)-1]
		}
		next := &readingsCursor{typ: types[i], at: b}
		if len(keep) == 0 && len(out) == 0 {
			keep, next.at = rs[:need], b.Add(1) // more than a page in one instant
			if !next.at.Before(to) {
				next = nil
				if i+1 < len(types) {
					next = &readingsCursor{typ: types[i+1], at: from}
				}
			}
		}
		return append(out, keep...), next, nil
	}
	return out, nil, nil
}

// span is a time range [from, to).
type span struct{ from, to time.Time }

// union merges spans into disjoint ones, newest first.
func union(spans []span) []span {
	sort.Slice(spans, func(i, j int) bool { return spans[i].from.Before(spans[j].from) })
	var out []span
	for _, s := range spans {
		if !s.from.Before(s.to) {
			continue
		}
		if n := len(out); n > 0 && !s.from.After(out[n-1].to) {
			if s.to.After(out[n-1].to) {
				out[n-1].to = s.to
			}
			continue
		}
		out = append(out, s)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// newestPage reads a page of count readings of types in spans (disjoint,
// newest first) before before (zero: no bound), newest first across the
// types, after skipping skip of them. next is the before of the next page,
// zero on the last page.
func newestPage(ctx context.Context, store vitals.Store, patient string, types []vitals.Type, spans []span,
	before time.Time, skip, count int) (page []vitals.Reading, next time.Time, err error) {
	n := skip + count + 1
	var all []vitals.Reading
	for _, sp := range spans {
		if !before.IsZero() && before.Before(sp.to) {
			sp.to = before
		}
		if !sp.from.Before(sp.to) {
			continue
		}
		var in []vitals.Reading
		for _, t := range types {
			rs, err := store.Range(ctx, vitals.Query{Patient: patient, Type: t, From: sp.from, To: sp.to, Limit: n, Newest: true})
			if err != nil {
				return nil, time.Time{}, err
			}
			in = append(in, rs...)
		}
		sort.SliceStable(in, func(i, j int) bool { return in[i].Time.After(in[j].Time) })
		all = append(all, in...)
		if len(all) >= n {
			break
		}
	}
	all = all[:min(n, len(all))]
	page = all[min(skip, len(all)):]
	if len(page) <= count {
		return page, time.Time{}, nil
	}
	b := page[count].Time
	keep := page[:count]
	for len(keep) > 0 && keep[len(keep)-1].Time.Equal(b) {
		keep = keep[:len(keep)-1]
	}
	if len(keep) == 0 {
		return page[:count], b, nil // more than a page in one instant
	}
	return keep, b.Add(1), nil
}
