package httpapi

import (
	"encoding/csv"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/devices"
)

// devicesAPI is the admin's device registry: register (one, or a fleet
// from a CSV), find, bind, revoke.
type devicesAPI struct {
	access
	reg        *devices.Registry
	chart      *chart.Chart
	limits     devices.Config
	disconnect func(device string)
	log        zerolog.Logger
}

// list answers a page of the devices matching q, after the id after.
func (a devicesAPI) list(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	limit := a.limits.PageSize
	if s := qs.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > a.limits.MaxPageSize {
			fail(w, http.StatusBadRequest, fmt.Sprintf("limit: 1-%d", a.limits.MaxPageSize))
			return
		}
		limit = n
	}
	q := strings.TrimSpace(qs.Get("q"))
	page, total, next, err := a.reg.Search(q, qs.Get("after"), limit)
	if err != nil {
		failErr(w, err)
		return
	}
	out := DevicePage{Devices: page, Total: total}
	if out.Devices == nil {
		out.Devices = []devices.Device{}
	}
	if next != "" {
		v := url.Values{"limit": {strconv.Itoa(limit)}, "after": {next}}
		if q != "" {
			v.Set("q", q)
		}
		out.Next = "/api/v1/devices?" + v.Encode()
	}
	writeJSON(w, http.StatusOK, out)
}

// kinds answers the catalog of device kinds (no patient data).
func deviceKinds(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, devices.Kinds())
}

// bulk enrols a fleet from a CSV (id, kind, patient, serial, model), all or
// nothing. Each patient a device is bound to is audited, as a binding is.
func (a devicesAPI) bulk(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "text/csv" {
		fail(w, http.StatusUnsupportedMediaType, "send the devices as text/csv: a header line (id,kind,patient,serial,model), then a device a line")
		return
	}
	rows, err := devices.ParseCSV(http.MaxBytesReader(w, r.Body, a.limits.BulkMaxBytes), a.limits.BulkMaxRows)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("CSV larger than %d bytes (devices.bulk_max_bytes): split the list", a.limits.BulkMaxBytes))
		return
	case errors.Is(err, devices.ErrTooManyRows):
		fail(w, http.StatusRequestEntityTooLarge, err.Error()+": split the list")
		return
	case err != nil:
		a.refuseRows(w, err)
		return
	case len(rows) == 0:
		fail(w, http.StatusBadRequest, "no devices in the CSV")
		return
	}
	var lookupErr error
	exists := func(patient string) bool {
		_, err := a.chart.Patient(r.Context(), patient)
		if err != nil && !errors.Is(err, chart.ErrNotFound) {
			lookupErr = err
		}
		return err == nil
	}
	// Validated against the registry and the chart before anything is
	// audited or written; BulkAdd checks the registry again under its lock.
	if err := a.reg.CheckBulk(rows, exists); err != nil || lookupErr != nil {
		if lookupErr != nil {
			failErr(w, lookupErr)
			return
		}
		a.refuseRows(w, err)
		return
	}
	if !a.auditBindings(w, r, rows) {
		return
	}
	made, err := a.reg.BulkAdd(r.Context(), rows, nil, time.Now())
	if err != nil {
		a.refuseRows(w, err)
		return
	}
	a.log.Info().Int("devices", len(made)).Msg("devices enrolled in bulk")
	if accepts(r, "text/csv") {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.WriteHeader(http.StatusCreated)
		cw := csv.NewWriter(w)
		cw.Write([]string{"id", "secret"})
		for _, m := range made {
			cw.Write([]string{m.ID, m.Secret})
		}
		cw.Flush()
		return
	}
	writeJSON(w, http.StatusCreated, BulkEnrolResponse{Created: len(made), Devices: made})
}

func (a devicesAPI) refuseRows(w http.ResponseWriter, err error) {
	var bad *devices.BulkError
	if !errors.As(err, &bad) {
		failErr(w, err)
		return
	}
	writeJSON(w, http.StatusBadRequest, BulkEnrolRefusal{Error: err.Error(), Rows: bad.Rows, More: bad.More})
}

// auditBindings records the binding of each patient's devices, once per
// patient, before the devices are written; on failure it has answered.
func (a devicesAPI) auditBindings(w http.ResponseWriter, r *http.Request, rows []devices.NewDevice) bool {
	seen := map[string]bool{}
	for _, d := range rows {
		if d.Patient == "" || seen[d.Patient] {
			continue
		}
		seen[d.Patient] = true
		if !a.allowed(w, r, d.Patient, "POST /api/v1/devices/bulk") {
			return false
		}
	}
	return true
}

// accepts reports whether the request's Accept header names mediaType.
func accepts(r *http.Request, mediaType string) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == mediaType {
			return true
		}
	}
	return false
}

func (a devicesAPI) get(w http.ResponseWriter, r *http.Request) {
	d, err := a.reg.Get(r.PathValue("id"))
	if err != nil {
		failErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (a devicesAPI) add(w http.ResponseWriter, r *http.Request) {
	var req AddDeviceRequest
	if !decodeBody(w, r, &req) {
		return
	}
	// Binding at creation decides whose readings are whose, as /bind does:
	// audited first, so that nothing is written unaudited.
	if req.Patient != "" && !a.allowed(w, r, req.Patient, "POST /api/v1/devices") {
		return
	}
	secret, err := a.reg.AddLabelled(r.Context(), req.ID, req.Kind,
		devices.Labels{Manufacturer: req.Manufacturer, Model: req.Model, Serial: req.Serial})
	if err != nil {
		failErr(w, err)
		return
	}
	if req.Patient != "" {
		from := req.BoundFrom
		if from.IsZero() {
			from = time.Now()
		}
		if err := a.reg.Bind(r.Context(), req.ID, req.Patient, from); err != nil {
			failErr(w, err)
			return
		}
	}
	a.log.Info().Str("device", req.ID).Msg("device added")
	writeJSON(w, http.StatusCreated, AddDeviceResponse{ID: req.ID, Secret: secret})
}

func (a devicesAPI) bind(w http.ResponseWriter, r *http.Request) {
	var req BindRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.At.IsZero() {
		req.At = time.Now()
	}
	// Which device measures a patient decides whose readings are whose.
	if !a.allowed(w, r, req.Patient, "POST /api/v1/devices/{id}/bind") {
		return
	}
	if err := a.reg.Bind(r.Context(), r.PathValue("id"), req.Patient, req.At); err != nil {
		failErr(w, err)
		return
	}
	a.get(w, r)
}

func (a devicesAPI) unbind(w http.ResponseWriter, r *http.Request) {
	var req BindRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.At.IsZero() {
		req.At = time.Now()
	}
	if err := a.reg.Unbind(r.Context(), r.PathValue("id"), req.At); err != nil {
		failErr(w, err)
		return
	}
	a.get(w, r)
}

func (a devicesAPI) revoke(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := a.reg.Revoke(r.Context(), id); err != nil {
		failErr(w, err)
		return
	}
	if a.disconnect != nil {
		a.disconnect(id)
	}
	a.log.Info().Str("device", id).Msg("device revoked")
	a.get(w, r)
}
