package httpapi

import (
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
	_ "time/tzdata" // the clinic's zone on hosts without a zone database

	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/measures"
	"github.com/vitalwire/vitalwire/rpm"
	"github.com/vitalwire/vitalwire/telehealth"
	"github.com/vitalwire/vitalwire/vitals"
)

// ClinicConfig is the clinic's own settings the pages and reports use.
type ClinicConfig struct {
	// TimeZone is the clinic's IANA time zone ("America/Chicago"): the
	// charts' axes, the days and weeks of the program's measures. Empty:
	// UTC.
	TimeZone string `yaml:"time_zone"`
}

// Validate checks the settings and names the bad field.
func (c ClinicConfig) Validate() error {
	if _, err := c.Location(); err != nil {
		return fmt.Errorf("time_zone: %w", err)
	}
	return nil
}

// Location is the clinic's zone (UTC when none is set).
func (c ClinicConfig) Location() (*time.Location, error) {
	if c.TimeZone == "" {
		return time.UTC, nil
	}
	return time.LoadLocation(c.TimeZone)
}

// zoneName is the zone's IANA name for the pages.
func (c ClinicConfig) zoneName() string {
	if c.TimeZone == "" {
		return "UTC"
	}
	return c.TimeZone
}

// The bounds of one measures report: alerts, visits, monitoring
// episodes and time entries it may read.
const (
	measuresMaxAlerts   = 200_000
	measuresMaxVisits   = 50_000
	measuresMaxEpisodes = 100_000
	measuresMaxEntries  = 500_000
)

// measuresAPI serves the program's quality measures: counts and times,
// never a vital value.
type measuresAPI struct {
	access
	chart   *chart.Chart
	program *rpm.Program
	store   vitals.Store
	alerts  *alerts.Service
	visits  *telehealth.Visits
	clinic  ClinicConfig
	log     zerolog.Logger
	now     func() time.Time
}

// MeasuresReport is the answer of GET /api/v1/reports/measures.
type MeasuresReport struct {
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Period   string    `json:"period"`
	TimeZone string    `json:"time_zone"`
	CareTeam string    `json:"care_team,omitempty"`
	// Teams are the care teams the caller may report on (a clinician's
	// own, every team for an admin), for choosing one.
	Teams    []TeamRef      `json:"care_teams"`
	Patients int            `json:"patients"`
	Periods  []measures.Row `json:"periods"`
}

// TeamRef names a care team.
type TeamRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// report answers GET /api/v1/reports/measures?from=&to=&period=week|month
// [&care_team=ID][&format=csv]: a clinician's care teams (or one of
// them), any team or all for an admin. The report is audited as one
// access to the patients of its scope ("*").
func (a measuresAPI) report(w http.ResponseWriter, r *http.Request) {
	c, _ := auth.FromContext(r.Context())
	const action = "GET /api/v1/reports/measures"
	q := r.URL.Query()
	zone, err := a.clinic.Location()
	if err != nil {
		fail(w, http.StatusInternalServerError, "clinic time zone")
		return
	}
	period := q.Get("period")
	if period == "" {
		period = measures.Month
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		fail(w, http.StatusBadRequest, "format: json or csv")
		return
	}
	now := a.now()
	from, to, err := measuresRange(q.Get("from"), q.Get("to"), now, zone)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	periods, err := measures.Periods(period, from, to, zone)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	teams, err := a.chart.Teams(r.Context())
	if err != nil {
		failErr(w, err)
		return
	}
	team := q.Get("care_team")
	var scope []chart.Team
	refs := []TeamRef{}
	for _, t := range teams {
		mine := c.Role == auth.RoleAdmin || slices.Contains(t.Clinicians, c.Subject)
		if mine {
			refs = append(refs, TeamRef{ID: t.ID, Name: t.Name})
		}
		if mine && (team == "" || t.ID == team) {
			scope = append(scope, t)
		}
	}
	if team != "" && len(scope) == 0 {
		// Not the caller's team, or no such team: the same answer.
		if a.refused(w, r, c, "*", action) {
			fail(w, http.StatusForbidden, "no access to this care team")
		}
		return
	}
	if !a.allowed(w, r, "*", action) {
		return
	}
	ids := map[string]bool{}
	for _, t := range scope {
		for _, p := range t.Patients {
			ids[p] = true
		}
	}
	patients := make([]string, 0, len(ids))
	for p := range ids {
		patients = append(patients, p)
	}
	slices.Sort(patients)
	in, err := a.input(r, patients, periods, zone, now)
	if err != nil {
		switch {
		case errors.Is(err, alerts.ErrTooMany), errors.Is(err, telehealth.ErrTooManyVisits), errors.Is(err, rpm.ErrTooMany):
			fail(w, http.StatusUnprocessableEntity, err.Error())
		case errors.Is(err, vitals.ErrUnavailable):
			storeFailed(w, a.log, "measures", err)
		default:
			a.log.Error().Err(err).Msg("measures failed")
			fail(w, http.StatusInternalServerError, "internal error")
		}
		return
	}
	rows := measures.Compute(in)
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="measures-%s-%s-%s.csv"`, period,
			from.In(zone).Format("20060102"), to.In(zone).Format("20060102")))
		w.Header().Set("Cache-Control", "no-store")
		out := csv.NewWriter(w)
		out.Write(measures.CSVHeader())
		for _, row := range rows {
			out.Write(row.CSVRecord(zone))
		}
		out.Flush()
		return
	}
	writeJSON(w, http.StatusOK, MeasuresReport{From: from, To: to, Period: period, TimeZone: a.clinic.zoneName(), CareTeam: team,
		Teams: refs, Patients: len(patients), Periods: rows})
}

// measuresRange reads from and to: RFC 3339 times or local dates
// (YYYY-MM-DD, midnight in the clinic's zone; to is exclusive). Without
// them: the last 12 weeks up to now.
func measuresRange(fs, ts string, now time.Time, zone *time.Location) (time.Time, time.Time, error) {
	parse := func(name, s string) (time.Time, error) {
		if t, err := time.ParseInLocation(time.DateOnly, s, zone); err == nil {
			return t, nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return t, fmt.Errorf("%s: a date (YYYY-MM-DD) or an RFC 3339 time", name)
		}
		return t, nil
	}
	to, from := now, now.AddDate(0, 0, -84)
	var err error
	if ts != "" {
		if to, err = parse("to", ts); err != nil {
			return from, to, err
		}
	}
	if fs != "" {
		if from, err = parse("from", fs); err != nil {
			return from, to, err
		}
	} else if ts != "" {
		from = to.AddDate(0, 0, -84)
	}
	return from, to, nil
}

// input gathers what the measures count: the monitoring episodes, the
// local days with readings of the patients enrolled (one grouped store
// query, over the adherence window before the first period and the
// periods, never a patient's whole history), the alerts fired, the visits
// ended and the care-management time recorded in the periods.
func (a measuresAPI) input(r *http.Request, patients []string, periods []measures.Span, zone *time.Location, now time.Time) (measures.Input, error) {
	ctx := r.Context()
	in := measures.Input{Zone: zone, Periods: periods, Now: now, NotRelevant: alerts.NotClinicallyRelevant}
	if len(periods) == 0 {
		return in, nil
	}
	from, to := periods[0].From, periods[len(periods)-1].To
	dataFrom := measures.DataFrom(periods, zone)
	dataTo := to
	if now.Add(time.Minute).Before(dataTo) {
		dataTo = now.Add(time.Minute)
	}
	enrolled, err := a.program.EnrolledBetween(ctx, a.chart, dataFrom, to, measuresMaxEpisodes)
	if err != nil {
		return in, err
	}
	monitored := map[string][]measures.Span{}
	for _, e := range enrolled {
		monitored[e.Patient] = append(monitored[e.Patient], measures.Span{From: e.From, To: e.To})
	}
	var withData []string
	for _, p := range patients {
		pt := measures.Patient{ID: p, Monitored: monitored[p], DataDays: map[measures.Date]bool{}}
		if len(pt.Monitored) > 0 {
			withData = append(withData, p)
		}
		in.Patients = append(in.Patients, pt)
	}
	// Whole months and the adherence window may pass the store's bound
	// of one days query: ask in parts (a day cut in two is one day).
	for lo := dataFrom; len(withData) > 0 && lo.Before(dataTo); {
		hi := lo.Add(vitals.MaxDaysSpan - 24*time.Hour)
		if hi.After(dataTo) {
			hi = dataTo
		}
		days, err := a.store.DaysWithData(ctx, vitals.DaysQuery{Patients: withData, From: lo, To: hi, Location: zone})
		if err != nil {
			return in, err
		}
		for i := range in.Patients {
			for _, d := range days[in.Patients[i].ID] {
				t, err := time.Parse(time.DateOnly, d.Date)
				if err != nil {
					return in, fmt.Errorf("days with data: %q: %w", d.Date, err)
				}
				in.Patients[i].DataDays[measures.Date{Y: t.Year(), M: t.Month(), D: t.Day()}] = true
			}
		}
		lo = hi
	}
	entries, err := a.program.TimeBetween(ctx, from, to, measuresMaxEntries)
	if err != nil {
		return in, err
	}
	for _, e := range entries {
		in.Time = append(in.Time, measures.CareTime{Patient: e.Patient, Start: e.Start, Seconds: e.Seconds, Interactive: e.Interactive})
	}
	as, err := a.alerts.FiredBetween(ctx, patients, from, to, measuresMaxAlerts)
	if err != nil {
		return in, err
	}
	for _, x := range as {
		in.Alerts = append(in.Alerts, measures.Alert{Patient: x.Patient, Severity: x.FiredSeverity, FiredAt: x.FiredAt, AckedAt: x.AckedAt,
			ResolvedAt: x.ResolvedAt, ResolvedByHand: x.State == alerts.Resolved && x.ResolvedBy != "system",
			Outcome: x.ResolveOutcome, EscalatedAt: x.EscalatedAt})
	}
	vs, err := a.visits.EndedBetween(ctx, from, to, measuresMaxVisits)
	if err != nil {
		return in, err
	}
	for _, v := range vs {
		in.Visits = append(in.Visits, measures.Visit{Patient: v.Patient, EndedAt: v.EndedAt, InteractiveSeconds: v.InteractiveSeconds})
	}
	return in, nil
}
