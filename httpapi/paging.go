package httpapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// A cursor says where the next page starts: at a time, after the first
// skip readings of that very time (readings of one instant, from several
// devices, come in the store's fixed order), so that pages are full and
// hold every reading once.

// errBadCursor: a cursor that is not of the query it came with.
var errBadCursor = errors.New("cursor: not of this query; follow the next link as given")

// pageCursor is where the next page starts: a type of the query's (the
// readings API, type by type; "" in FHIR searches, across types), a time,
// and how many readings of that time the earlier pages held. Its text is
// "[type.]unixnano.skip".
type pageCursor struct {
	typ  vitals.Type
	at   time.Time
	skip int
}

func (c pageCursor) String() string {
	s := strconv.FormatInt(c.at.UnixNano(), 10) + "." + strconv.Itoa(c.skip)
	if c.typ != "" {
		s = string(c.typ) + "." + s
	}
	return s
}

// parseCursor reads a cursor; withType says whether it names a type.
// maxSkip bounds how many readings of its instant it may skip: a page's
// worth (pages hold no more), so that a made-up cursor cannot make one
// request read more of the store than a page does.
func parseCursor(s string, withType bool, maxSkip int) (pageCursor, error) {
	var c pageCursor
	parts := strings.Split(s, ".")
	if withType {
		if len(parts) != 3 {
			return c, errBadCursor
		}
		c.typ, parts = vitals.Type(parts[0]), parts[1:]
	}
	if len(parts) != 2 {
		return c, errBadCursor
	}
	ns, err1 := strconv.ParseInt(parts[0], 10, 64)
	skip, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || skip < 0 || skip > maxSkip {
		return c, errBadCursor
	}
	c.at, c.skip = time.Unix(0, ns).UTC(), skip
	return c, nil
}

// distinctTypes appends t to types unless it is there already: a type
// named twice is read once.
func distinctTypes(types []vitals.Type, t vitals.Type) []vitals.Type {
	if slices.Contains(types, t) {
		return types
	}
	return append(types, t)
}

// tail counts the readings at the end of rs whose time is rs's last.
func tail(rs []vitals.Reading) int {
	n := 0
	for i := len(rs) - 1; i >= 0 && rs[i].Time.Equal(rs[len(rs)-1].Time); i-- {
		n++
	}
	return n
}

// oldestPage reads up to limit readings of types in [from, to), type by
// type in order, each oldest first, from cursor on (nil: the start). next
// is nil on the last page.
func oldestPage(ctx context.Context, store vitals.Store, patient string, types []vitals.Type, from, to time.Time,
	cursor *pageCursor, limit int) (out []vitals.Reading, next *pageCursor, err error) {
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
		f, skip := from, 0
		if cursor != nil && i == start {
			f, skip = cursor.at, cursor.skip
		}
		need := limit - len(out)
		rs, err := store.Range(ctx, vitals.Query{Patient: patient, Type: types[i], From: f, To: to, Limit: skip + need + 1})
		if err != nil {
			return nil, nil, err
		}
		rs = rs[min(skip, len(rs)):]
		if len(rs) <= need {
			out = append(out, rs...)
			continue
		}
		page := rs[:need]
		at := page[len(page)-1].Time
		k := tail(page)
		if at.Equal(f) {
			k += skip // the same instant as the cursor's
		}
		return append(out, page...), &pageCursor{typ: types[i], at: at, skip: k}, nil
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
// newest first), newest first across the types, from cursor on (nil: the
// newest) and after offset more. next is nil on the last page.
func newestPage(ctx context.Context, store vitals.Store, patient string, types []vitals.Type, spans []span,
	cursor *pageCursor, offset, count int) (page []vitals.Reading, next *pageCursor, err error) {
	var before time.Time
	skip := offset
	if cursor != nil {
		before, skip = cursor.at.Add(1), skip+cursor.skip
	}
	n := skip + count + 1
	var all []vitals.Reading
	for _, sp := range spans {
		if cursor != nil && before.Before(sp.to) {
			sp.to = before
		}
		if !sp.from.Before(sp.to) {
			continue
		}
		var in []vitals.Reading
		for _, t := range types {
			rs, err := store.Range(ctx, vitals.Query{Patient: patient, Type: t, From: sp.from, To: sp.to, Limit: n, Newest: true})
			if err != nil {
				return nil, nil, err
			}
			in = append(in, rs...)
		}
		// Newest first; one instant's readings in the order of types, then
		// as the store gave them: the same order on every page.
		sort.SliceStable(in, func(i, j int) bool { return in[i].Time.After(in[j].Time) })
		all = append(all, in...)
		if len(all) >= n {
			break
		}
	}
	all = all[:min(n, len(all))]
	if len(all) <= skip+count {
		return all[min(skip, len(all)):], nil, nil
	}
	upto := all[:skip+count]
	return upto[skip:], &pageCursor{at: upto[len(upto)-1].Time, skip: tail(upto)}, nil
}
