package httpapi

import (
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/vitalwire/vitalwire/vitals"
)

// The bounds of one CSV export of a patient's readings: a range of at most
// csvMaxRange and at most csvMaxRows readings (counted before the first
// byte is sent, so that a refused export says why instead of stopping
// half-way).
const (
	csvMaxRange = 93 * 24 * time.Hour
	csvMaxRows  = 500_000
	csvPage     = 5_000
)

// readingsCSV answers GET /api/v1/patients/{id}/readings.csv?from=&to=
// [&type=a,b]: the patient's readings in [from, to), type by type, each
// oldest first, as a CSV file to download. The gate has decided and
// audited the access (a Patient route).
func (a vitalsAPI) readingsCSV(w http.ResponseWriter, r *http.Request) {
	patient := r.PathValue("id")
	q := r.URL.Query()
	if q.Get("from") == "" || q.Get("to") == "" || q.Get("since") != "" {
		fail(w, http.StatusBadRequest, "from and to are required (RFC 3339 times)")
		return
	}
	types, from, to, err := queryWindow(r)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if to.Sub(from) > csvMaxRange {
		fail(w, http.StatusBadRequest, fmt.Sprintf("the range is at most %d days; export a longer history in parts", csvMaxRange/(24*time.Hour)))
		return
	}
	total := int64(0)
	for _, t := range types {
		ws, err := a.store.Aggregate(r.Context(), vitals.AggregateQuery{Query: vitals.Query{Patient: patient, Type: t, From: from, To: to}})
		if err != nil {
			storeFailed(w, a.log, "readings count", err)
			return
		}
		for _, w := range ws {
			total += w.Count
		}
	}
	if total > csvMaxRows {
		fail(w, http.StatusUnprocessableEntity, fmt.Sprintf("%d readings in the range, more than the %d one export holds; choose a shorter range or fewer types", total, csvMaxRows))
		return
	}
	name := fmt.Sprintf("readings-%s-%s-%s.csv", patient, from.UTC().Format("20060102T150405Z"), to.UTC().Format("20060102T150405Z"))
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	out := csv.NewWriter(w)
	out.Write([]string{"time", "type", "value", "diastolic", "unit", "device", "time_source"})
	var cursor *pageCursor
	for written := int64(0); written <= csvMaxRows; {
		rs, next, err := oldestPage(r.Context(), a.store, patient, types, from, to, cursor, csvPage)
		if err != nil {
			// The header is sent: end the file with a line that says it
			// is incomplete rather than a silently short file.
			a.log.Error().Err(errors.Unwrap(err)).Str("patient", patient).Msg("readings export failed")
			out.Write([]string{"# export incomplete: the store stopped answering"})
			break
		}
		for _, x := range rs {
			dia, source := "", "device"
			if x.Type == vitals.BloodPressure {
				dia = strconv.FormatFloat(x.Diastolic, 'f', -1, 64)
			}
			if x.ReceivedTime {
				source = "received"
			}
			out.Write([]string{x.Time.UTC().Format(time.RFC3339Nano), string(x.Type), strconv.FormatFloat(x.Value, 'f', -1, 64), dia, x.Unit, x.Device, source})
		}
		written += int64(len(rs))
		out.Flush()
		if next == nil {
			break
		}
		cursor = next
	}
	out.Flush()
}
