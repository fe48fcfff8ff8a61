package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/vitals"
)

// vitalsAPI reads a patient's readings from the time-series store.
type vitalsAPI struct {
	pages   PageConfig
	store   vitals.Store
	devices *devices.Registry
	log     zerolog.Logger
}

// vitalsCatalog serves the catalog of vitals the UI shows: the one copy.
func vitalsCatalog(w http.ResponseWriter, _ *http.Request) {
	out := []VitalJSON{}
	for _, s := range vitals.Catalog() {
		v := VitalJSON{Type: s.Type, Label: s.Display.Label, Unit: s.Canonical, Symbol: s.Display.Symbol, Digits: s.Display.Digits,
			StaleAfterSeconds: int(s.Display.StaleAfter / time.Second), Tile: s.Display.Tile, Panel: s.IsPanel()}
		for _, u := range s.Units {
			v.Units = append(v.Units, u.UCUM)
		}
		for _, c := range s.Codes {
			v.LOINC = append(v.LOINC, c.Code)
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, out)
}

// storeFailed answers 503 for a store that did not answer.
func storeFailed(w http.ResponseWriter, log zerolog.Logger, what string, err error) {
	log.Error().Err(err).Msg(what + " failed")
	fail(w, http.StatusServiceUnavailable, "store unavailable")
}

// queryWindow reads type, since (a duration back from now), from and to.
func queryWindow(r *http.Request) (types []vitals.Type, from, to time.Time, err error) {
	q := r.URL.Query()
	to = time.Now().Add(time.Minute)
	from = to.Add(-time.Hour - time.Minute)
	if s := q.Get("since"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return nil, from, to, errors.New("since: a positive duration such as 10m")
		}
		from = time.Now().Add(-d)
	}
	if s := q.Get("from"); s != "" {
		if from, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return nil, from, to, errors.New("from: an RFC 3339 time")
		}
	}
	if s := q.Get("to"); s != "" {
		if to, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return nil, from, to, errors.New("to: an RFC 3339 time")
		}
	}
	if !from.Before(to) {
		return nil, from, to, errors.New("from must be before to")
	}
	if s := q.Get("type"); s != "" {
		for _, t := range strings.Split(s, ",") {
			if _, ok := vitals.Lookup(vitals.Type(t)); !ok {
				return nil, from, to, errors.New("type: unknown vital type " + t)
			}
			types = distinctTypes(types, vitals.Type(t))
		}
	} else {
		types = vitals.Types()
	}
	return types, from, to, nil
}

// readings answers a page of a patient's readings, type by type, each
// oldest first, with the link to the next page while there is one (the
// window of since is fixed in it as from and to).
func (a vitalsAPI) readings(w http.ResponseWriter, r *http.Request) {
	patient := r.PathValue("id")
	types, from, to, err := queryWindow(r)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	pages := a.pages.orDefault()
	limit, err := pages.pageSize(r.URL.Query().Get("limit"), "limit", pages.Size)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	var cursor *pageCursor
	if s := r.URL.Query().Get("cursor"); s != "" {
		c, err := parseCursor(s, true, pages.MaxSize)
		if err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		cursor = &c
	}
	rs, next, err := oldestPage(r.Context(), a.store, patient, types, from, to, cursor, limit)
	if errors.Is(err, errBadCursor) {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		storeFailed(w, a.log, "readings query", err)
		return
	}
	out := make([]Reading, 0, len(rs))
	for _, x := range rs {
		out = append(out, ReadingOf(x))
	}
	page := Readings{Patient: patient, From: from, To: to, Readings: out}
	if next != nil {
		q := r.URL.Query()
		q.Del("since")
		q.Set("from", from.UTC().Format(time.RFC3339Nano))
		q.Set("to", to.UTC().Format(time.RFC3339Nano))
		q.Set("limit", strconv.Itoa(limit))
		q.Set("cursor", next.String())
		page.Next = r.URL.Path + "?" + q.Encode()
	}
	writeJSON(w, http.StatusOK, page)
}

func (a vitalsAPI) latest(w http.ResponseWriter, r *http.Request) {
	rs, err := a.store.Latest(r.Context(), r.PathValue("id"))
	if err != nil {
		storeFailed(w, a.log, "latest query", err)
		return
	}
	out := []Reading{}
	for _, x := range rs {
		out = append(out, ReadingOf(x))
	}
	writeJSON(w, http.StatusOK, Readings{Patient: r.PathValue("id"), Readings: out})
}

func (a vitalsAPI) aggregates(w http.ResponseWriter, r *http.Request) {
	types, from, to, err := queryWindow(r)
	if err != nil || len(types) != 1 || r.URL.Query().Get("type") == "" {
		fail(w, http.StatusBadRequest, "one type is required, with since or from/to")
		return
	}
	var every time.Duration
	if s := r.URL.Query().Get("every"); s != "" {
		if every, err = time.ParseDuration(s); err != nil || every <= 0 {
			fail(w, http.StatusBadRequest, "every: a positive duration")
			return
		}
		if to.Sub(from)/every > 10_000 {
			fail(w, http.StatusBadRequest, "every: at most 10000 windows")
			return
		}
	}
	ws, err := a.store.Aggregate(r.Context(), vitals.AggregateQuery{
		Query: vitals.Query{Patient: r.PathValue("id"), Type: types[0], From: from, To: to}, Every: every})
	if err != nil {
		storeFailed(w, a.log, "aggregate query", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"patient": r.PathValue("id"), "type": types[0], "windows": ws})
}

// patientDevices lists the devices bound to the patient now.
func (a vitalsAPI) patientDevices(w http.ResponseWriter, r *http.Request) {
	out := boundTiles(a.devices, time.Now(), true)[r.PathValue("id")]
	if out == nil {
		out = []DeviceTile{}
	}
	writeJSON(w, http.StatusOK, out)
}

// boundTiles are the devices bound to each patient at now (revoked ones
// only withRevoked).
func boundTiles(reg *devices.Registry, now time.Time, withRevoked bool) map[string][]DeviceTile {
	out := map[string][]DeviceTile{}
	for _, d := range reg.List() {
		if p, ok := d.Patient(now); ok && (withRevoked || d.RevokedAt.IsZero()) {
			out[p] = append(out[p], DeviceTile{ID: d.ID, Kind: d.Kind, Online: d.Status.Online, Battery: d.Status.Battery, LastSeen: d.Status.LastSeen})
		}
	}
	return out
}
