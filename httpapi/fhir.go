package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/fhir"
	"github.com/vitalwire/vitalwire/vitals"
)

// The FHIR R4 read API under /fhir/r4/: Patient, Device, Observation
// (raw readings mapped from the time-series store), Encounter, and
// Patient/{id}/$everything. Every answer about a patient goes through the
// access gate, like the rest of the API.
type fhirAPI struct {
	access
	pages      PageConfig
	chart      *chart.Chart
	devices    *devices.Registry
	store      vitals.Store
	encounters *chart.Encounters
	baseURL    func() string
}

func writeFHIR(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", fhir.ContentType)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func fhirFail(w http.ResponseWriter, status int, code, text string) {
	writeFHIR(w, status, fhir.Outcome("error", code, text))
}

func (a fhirAPI) fhirBase(*http.Request) string { return a.baseURL() + "/fhir/r4" }

func (a fhirAPI) patient(w http.ResponseWriter, r *http.Request) {
	p, err := a.chart.Patient(r.Context(), r.PathValue("id"))
	if err != nil {
		fhirFail(w, http.StatusNotFound, "not-found", "no such Patient")
		return
	}
	writeFHIR(w, http.StatusOK, fhir.Patient(p))
}

// patientParam reads the patient a search is about and applies the
// policy, auditing; it has answered when ok is false.
func (a fhirAPI) patientParam(w http.ResponseWriter, r *http.Request, action string) (string, bool) {
	p := strings.TrimPrefix(r.URL.Query().Get("patient"), "Patient/")
	if p == "" {
		p = strings.TrimPrefix(r.URL.Query().Get("subject"), "Patient/")
	}
	if p == "" {
		fhirFail(w, http.StatusBadRequest, "required", "a patient search parameter is required")
		return "", false
	}
	c, _ := auth.FromContext(r.Context())
	return p, a.allowPatient(w, r, c, p, action)
}

func (a fhirAPI) device(w http.ResponseWriter, r *http.Request) {
	d, err := a.devices.Get(r.PathValue("device"))
	if err != nil {
		fhirFail(w, http.StatusNotFound, "not-found", "no such Device")
		return
	}
	c, _ := auth.FromContext(r.Context())
	patient, bound := d.Patient(time.Now())
	if !bound {
		if c.Role != auth.RoleAdmin {
			fhirFail(w, http.StatusForbidden, "forbidden", "an unbound device is an admin's")
			return
		}
		writeFHIR(w, http.StatusOK, fhir.Device(d, ""))
		return
	}
	if !a.allowPatient(w, r, c, patient, "GET /fhir/r4/Device/{device}") {
		return
	}
	writeFHIR(w, http.StatusOK, fhir.Device(d, patient))
}

func (a fhirAPI) devicesOf(patient string) []fhir.Resource {
	var out []fhir.Resource
	now := time.Now()
	for _, d := range a.devices.List() {
		if p, ok := d.Patient(now); ok && p == patient {
			out = append(out, fhir.Device(d, patient))
		}
	}
	return out
}

func (a fhirAPI) deviceSearch(w http.ResponseWriter, r *http.Request) {
	patient, ok := a.patientParam(w, r, "GET /fhir/r4/Device")
	if !ok {
		return
	}
	ds := a.devicesOf(patient)
	self := a.fhirBase(r) + "/Device?" + r.URL.RawQuery
	writeFHIR(w, http.StatusOK, fhirSearchset(r, a.fhirBase(r), ds, len(ds), [][2]string{{"self", self}}))
}

// categorySystem is the system of Observation categories.
const categorySystem = "http://terminology.hl7.org/CodeSystem/observation-category"

// kinds finds the kind of each device it is asked about, once.
type kinds struct {
	reg  *devices.Registry
	seen map[string]string
}

func (k *kinds) of(device string) string {
	if kind, ok := k.seen[device]; ok {
		return kind
	}
	if k.seen == nil {
		k.seen = map[string]string{}
	}
	d, err := k.reg.Get(device)
	if err == nil {
		k.seen[device] = d.Kind
	}
	return d.Kind
}

// obsQuery is an Observation search.
type obsQuery struct {
	patient  string
	types    []vitals.Type
	from, to time.Time
	count    int
	offset   int
	// glucose, when not nil, keeps only the glucose readings of the
	// device kinds the codes asked for (glucoseAll: a code of every kind).
	glucose    glucoseKinds
	glucoseAll bool
	// cursor is where a next link's page starts (nil: the first page).
	cursor *pageCursor
}

// parseFHIRDate reads a search date with an optional prefix (ge, gt, le,
// lt, eq); a date without a time means that whole day.
func parseFHIRDate(s string) (prefix string, from, to time.Time, err error) {
	prefix = "eq"
	if len(s) > 2 && strings.ContainsAny(s[:1], "glen") && s[1] >= 'a' && s[1] <= 'z' {
		prefix, s = s[:2], s[2:]
	}
	if t, e := time.Parse(time.RFC3339Nano, s); e == nil {
		return prefix, t, t.Add(time.Millisecond), nil
	}
	if t, e := time.Parse("2006-01-02", s); e == nil {
		return prefix, t, t.AddDate(0, 0, 1), nil
	}
	return "", time.Time{}, time.Time{}, errors.New("date: ge/gt/le/lt followed by YYYY-MM-DD or an RFC 3339 time")
}

func (a fhirAPI) readObsQuery(r *http.Request, patient string) (obsQuery, error) {
	q := obsQuery{patient: patient, count: 100, to: time.Now().Add(time.Minute), from: time.Now().AddDate(0, 0, -30)}
	v := r.URL.Query()
	if codes := v.Get("code"); codes != "" {
		for _, c := range strings.Split(codes, ",") {
			t, ok := fhir.CodeType(c)
			if !ok {
				return q, errors.New("code: not a code (LOINC, or IEEE 11073 with its system) of a vital this server keeps: " + c)
			}
			q.types = distinctTypes(q.types, t)
			if t == vitals.BloodGlucose {
				q.glucose, q.glucoseAll = addGlucoseCode(q.glucose, c), q.glucoseAll || strings.HasPrefix(c, vitals.MDC+"|")
			}
		}
		if q.glucoseAll {
			q.glucose = nil
		}
	} else {
		q.types = vitals.Types()
	}
	if cats := v.Get("category"); cats != "" {
		// A category this server keeps nothing of matches nothing.
		var in []vitals.Type
		for _, c := range strings.Split(cats, ",") {
			if sys, code, ok := strings.Cut(c, "|"); ok {
				if sys != categorySystem {
					continue
				}
				c = code
			}
			in = append(in, fhir.Categories()[c]...)
		}
		q.types = slices.DeleteFunc(q.types, func(t vitals.Type) bool { return !slices.Contains(in, t) })
	}
	for _, d := range v["date"] {
		prefix, from, to, err := parseFHIRDate(d)
		if err != nil {
			return q, err
		}
		switch prefix {
		case "ge":
			q.from = from
		case "gt":
			q.from = to
		case "le":
			q.to = to
		case "lt":
			q.to = from
		case "eq":
			q.from, q.to = from, to
		default:
			return q, errors.New("date: prefix " + prefix + " is not supported")
		}
	}
	pages := a.pages.orDefault()
	var err error
	if q.count, err = pages.pageSize(v.Get("_count"), "_count", min(100, pages.MaxSize)); err != nil {
		return q, err
	}
	if q.offset, q.cursor, err = readPagePosition(r, pages); err != nil {
		return q, err
	}
	return q, nil
}

// readPagePosition reads where a page starts: _offset (at most a page
// deep: further pages are reached by their next links) and _cursor (as a
// next link gives it).
func readPagePosition(r *http.Request, pages PageConfig) (offset int, cursor *pageCursor, err error) {
	v := r.URL.Query()
	if s := v.Get("_offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > pages.MaxSize {
			return 0, nil, fmt.Errorf("_offset: 0-%d (follow the next link for later pages)", pages.MaxSize)
		}
		offset = n
	}
	if s := v.Get("_cursor"); s != "" {
		c, err := parseCursor(s, false, pages.MaxSize)
		if err != nil {
			return 0, nil, errors.New("_cursor: as the next link gives it")
		}
		cursor = &c
	}
	return offset, cursor, nil
}

// pageLinks are a searchset's self link and, while there is more, its
// next link (the same search from the cursor on).
func (a fhirAPI) pageLinks(r *http.Request, path string, count int, next *pageCursor) [][2]string {
	links := [][2]string{{"self", a.fhirBase(r) + path + "?" + r.URL.RawQuery}}
	if next != nil {
		v := r.URL.Query()
		v.Del("_offset")
		v.Set("_count", strconv.Itoa(count))
		v.Set("_cursor", next.String())
		links = append(links, [2]string{"next", a.fhirBase(r) + path + "?" + v.Encode()})
	}
	return links
}

// total counts a search's matches (store aggregates: no reading is read).
func (a fhirAPI) total(r *http.Request, q obsQuery) (int, error) {
	n := 0
	for _, t := range q.types {
		if t == vitals.BloodGlucose && q.glucose != nil {
			c, err := keptStore{Store: a.store, kinds: q.glucose, devices: a.devices}.count(r.Context(),
				vitals.Query{Patient: q.patient, Type: t, From: q.from, To: q.to})
			if err != nil {
				return 0, err
			}
			n += c
			continue
		}
		ws, err := a.store.Aggregate(r.Context(), vitals.AggregateQuery{Query: vitals.Query{Patient: q.patient, Type: t, From: q.from, To: q.to}})
		if err != nil {
			return 0, err
		}
		for _, w := range ws {
			n += int(w.Count)
		}
	}
	return n, nil
}

// observationSearch answers a page of Observations, newest first, with a
// next link while there are more; each names the visit it was taken in,
// as $everything does.
func (a fhirAPI) observationSearch(w http.ResponseWriter, r *http.Request) {
	patient, ok := a.patientParam(w, r, "GET /fhir/r4/Observation")
	if !ok {
		return
	}
	q, err := a.readObsQuery(r, patient)
	if err != nil {
		fhirFail(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	self := [][2]string{{"self", a.fhirBase(r) + "/Observation?" + r.URL.RawQuery}}
	if len(q.types) == 0 {
		writeFHIR(w, http.StatusOK, fhirSearchset(r, a.fhirBase(r), nil, 0, self))
		return
	}
	total, err := a.total(r, q)
	if err != nil {
		fhirFail(w, http.StatusServiceUnavailable, "transient", "store unavailable")
		return
	}
	if summaryCount(r) {
		writeFHIR(w, http.StatusOK, fhirSearchset(r, a.fhirBase(r), nil, total, self))
		return
	}
	var store vitals.Store = a.store
	if q.glucose != nil {
		store = keptStore{Store: a.store, kinds: q.glucose, devices: a.devices}
	}
	page, next, err := newestPage(r.Context(), store, patient, q.types, []span{{q.from, q.to}}, q.cursor, q.offset, q.count)
	if err != nil {
		fhirFail(w, http.StatusServiceUnavailable, "transient", "store unavailable")
		return
	}
	encs, err := a.encounters.ForPatient(r.Context(), patient)
	if err != nil {
		fhirFail(w, http.StatusInternalServerError, "exception", "internal error")
		return
	}
	ks := kinds{reg: a.devices}
	res := make([]fhir.Resource, 0, len(page))
	for _, rd := range page {
		res = append(res, fhir.Observation(rd, encounterOf(encs, rd.Time), ks.of(rd.Device)))
	}
	writeFHIR(w, http.StatusOK, fhirSearchset(r, a.fhirBase(r), res, total, a.pageLinks(r, "/Observation", q.count, next)))
}

// maxPrefixMatches bounds the patients a long Observation id's prefix is
// checked against.
const maxPrefixMatches = 100000

// observationPatient finds the patient an Observation id names. The long
// form names the patient by a prefix and a hash; one that matches no
// patient is given as the prefix and hash, an id no patient has, so that
// the gate refuses it as it refuses any other patient it does not know.
func (a fhirAPI) observationPatient(r *http.Request, k fhir.ObservationKey) (string, error) {
	if k.Patient != "" {
		return k.Patient, nil
	}
	ids, err := a.chart.PatientIDsWithPrefix(r.Context(), k.PatientPrefix, maxPrefixMatches)
	if err != nil {
		return "", err
	}
	for _, id := range ids {
		if k.Names(id) {
			return id, nil
		}
	}
	return k.PatientPrefix + "." + k.PatientHash, nil
}

func (a fhirAPI) observation(w http.ResponseWriter, r *http.Request) {
	k, err := fhir.ParseObservationID(r.PathValue("obs"))
	if err != nil {
		fhirFail(w, http.StatusNotFound, "not-found", "no such Observation")
		return
	}
	patient, err := a.observationPatient(r, k)
	if err != nil {
		fhirFail(w, http.StatusInternalServerError, "exception", "internal error")
		return
	}
	c, _ := auth.FromContext(r.Context())
	if !a.allowPatient(w, r, c, patient, "GET /fhir/r4/Observation/{obs}") {
		return
	}
	rs, err := a.store.Range(r.Context(), vitals.Query{Patient: patient, Type: k.Type, From: k.At, To: k.At.Add(time.Millisecond)})
	if err != nil {
		fhirFail(w, http.StatusServiceUnavailable, "transient", "store unavailable")
		return
	}
	for _, rd := range rs {
		if fhir.MatchesTag(rd.Device, k.Tag) {
			encs, err := a.encounters.ForPatient(r.Context(), patient)
			if err != nil {
				fhirFail(w, http.StatusInternalServerError, "exception", "internal error")
				return
			}
			ks := kinds{reg: a.devices}
			writeFHIR(w, http.StatusOK, fhir.Observation(rd, encounterOf(encs, rd.Time), ks.of(rd.Device)))
			return
		}
	}
	fhirFail(w, http.StatusNotFound, "not-found", "no such Observation")
}

func (a fhirAPI) encounter(w http.ResponseWriter, r *http.Request) {
	enc, err := a.encounters.Get(r.Context(), r.PathValue("enc"))
	if err != nil {
		fhirFail(w, http.StatusNotFound, "not-found", "no such Encounter")
		return
	}
	c, _ := auth.FromContext(r.Context())
	if !a.allowPatient(w, r, c, enc.Patient, "GET /fhir/r4/Encounter/{enc}") {
		return
	}
	writeFHIR(w, http.StatusOK, fhir.Encounter(enc))
}

// encounterHistory answers Encounter/{enc}/_history: every version of a
// visit's Encounter, newest first.
func (a fhirAPI) encounterHistory(w http.ResponseWriter, r *http.Request) {
	vs, err := a.encounters.History(r.Context(), r.PathValue("enc"))
	if err != nil {
		fhirFail(w, http.StatusNotFound, "not-found", "no such Encounter")
		return
	}
	c, _ := auth.FromContext(r.Context())
	if !a.allowPatient(w, r, c, vs[0].Patient, "GET /fhir/r4/Encounter/{enc}/_history") {
		return
	}
	writeFHIR(w, http.StatusOK, fhir.EncounterHistory(a.fhirBase(r), vs))
}

// encounterVersion answers Encounter/{enc}/_history/{vid}: one version.
func (a fhirAPI) encounterVersion(w http.ResponseWriter, r *http.Request) {
	cur, err := a.encounters.Get(r.Context(), r.PathValue("enc"))
	if err != nil {
		fhirFail(w, http.StatusNotFound, "not-found", "no such Encounter")
		return
	}
	c, _ := auth.FromContext(r.Context())
	if !a.allowPatient(w, r, c, cur.Patient, "GET /fhir/r4/Encounter/{enc}/_history/{vid}") {
		return
	}
	vid, err := strconv.Atoi(r.PathValue("vid"))
	if err != nil || vid < 1 {
		fhirFail(w, http.StatusNotFound, "not-found", "no such version of the Encounter")
		return
	}
	enc, err := a.encounters.Version(r.Context(), cur.ID, vid)
	if err != nil {
		fhirFail(w, http.StatusNotFound, "not-found", "no such version of the Encounter")
		return
	}
	writeFHIR(w, http.StatusOK, fhir.Encounter(enc))
}

func (a fhirAPI) encounterSearch(w http.ResponseWriter, r *http.Request) {
	patient, ok := a.patientParam(w, r, "GET /fhir/r4/Encounter")
	if !ok {
		return
	}
	encs, err := a.encounters.ForPatient(r.Context(), patient)
	if err != nil {
		fhirFail(w, http.StatusInternalServerError, "exception", "internal error")
		return
	}
	res := make([]fhir.Resource, 0, len(encs))
	for _, e := range encs {
		res = append(res, fhir.Encounter(e))
	}
	writeFHIR(w, http.StatusOK, fhirSearchset(r, a.fhirBase(r), res, len(res),
		[][2]string{{"self", a.fhirBase(r) + "/Encounter?patient=" + url.QueryEscape(patient)}}))
}

// everything answers Patient/{id}/$everything: the patient, their
// devices, encounters, and the observations of each encounter's window
// and of the period asked (start/end, default the last 24 h), newest
// first, a page of _count at a time (the next link's pages hold the
// further Observations only).
func (a fhirAPI) everything(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p, err := a.chart.Patient(r.Context(), id)
	if err != nil {
		fhirFail(w, http.StatusNotFound, "not-found", "no such Patient")
		return
	}
	pages := a.pages.orDefault()
	q := obsQuery{patient: id, types: vitals.Types(), to: time.Now().Add(time.Minute), from: time.Now().Add(-24 * time.Hour)}
	for name, dst := range map[string]*time.Time{"start": &q.from, "end": &q.to} {
		if s := r.URL.Query().Get(name); s != "" {
			_, from, _, err := parseFHIRDate(s)
			if err != nil {
				fhirFail(w, http.StatusBadRequest, "invalid", name+": a date or time")
				return
			}
			*dst = from
		}
	}
	if q.count, err = pages.pageSize(r.URL.Query().Get("_count"), "_count", pages.Size); err != nil {
		fhirFail(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	if q.offset, q.cursor, err = readPagePosition(r, pages); err != nil {
		fhirFail(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	encs, err := a.encounters.ForPatient(r.Context(), id)
	if err != nil {
		fhirFail(w, http.StatusInternalServerError, "exception", "internal error")
		return
	}
	spans := []span{{q.from, q.to}}
	for _, e := range encs {
		spans = append(spans, span{e.WindowStart, encounterEnd(e).Add(time.Millisecond)})
	}
	obs, next, err := newestPage(r.Context(), a.store, id, q.types, union(spans), q.cursor, q.offset, q.count)
	if err != nil {
		fhirFail(w, http.StatusServiceUnavailable, "transient", "store unavailable")
		return
	}
	var res []fhir.Resource
	if q.cursor == nil {
		res = append(res, fhir.Patient(p))
		res = append(res, a.devicesOf(id)...)
		for _, e := range encs {
			res = append(res, fhir.Encounter(e))
		}
	}
	ks := kinds{reg: a.devices}
	for _, rd := range obs {
		res = append(res, fhir.Observation(rd, encounterOf(encs, rd.Time), ks.of(rd.Device)))
	}
	writeFHIR(w, http.StatusOK, fhirSearchset(r, a.fhirBase(r), res, len(res),
		a.pageLinks(r, "/Patient/"+url.PathEscape(id)+"/$everything", q.count, next)))
}

// encounterEnd is the end of an encounter's window: the visit's end, or
// the time of its last version while the visit goes on.
func encounterEnd(e chart.Encounter) time.Time {
	if e.End.IsZero() {
		return e.UpdatedAt
	}
	return e.End
}

func encounterOf(encs []chart.Encounter, t time.Time) string {
	for _, e := range encs {
		if !t.Before(e.WindowStart) && !t.After(encounterEnd(e)) {
			return e.ID
		}
	}
	return ""
}
