// Package measures computes a remote monitoring program's quality
// measures per week or month: adherence (patients with readings on at
// least 16 days of the last 30, days since the last reading), alert
// response (time to acknowledge by severity, escalations), alert burden
// (alerts per patient-day, the share resolved as not clinically relevant)
// and visits and their interactive minutes per patient.
//
// It reads counts and times only, never a vital value: the caller hands it
// which local days had readings, the alerts' lifecycle times, the visits'
// interactive seconds, the care-management time clinicians recorded and
// when patients were enrolled in monitoring episodes. It imports nothing of
// Vitalwire's, so that the definitions are plain to read and test.
package measures

import (
	"errors"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"
)

// Periods a report is cut into.
const (
	Week  = "week"  // Monday 00:00 to the next Monday, in the clinic's zone
	Month = "month" // the 1st 00:00 to the next 1st, in the clinic's zone
)

// Bounds of one report.
const (
	// MaxRange is the longest span a report covers.
	MaxRange = 366 * 24 * time.Hour
	// Lookback is the adherence window: readings on at least
	// AdherentDays of the Lookback days ending at a period's end.
	Lookback     = 30
	AdherentDays = 16
)

// Errors of a request.
var (
	ErrPeriod = errors.New("period: week or month")
	ErrRange  = errors.New("from must be before to, at most 366 days apart")
)

// Date is a calendar day in the clinic's time zone.
type Date struct {
	Y int
	M time.Month
	D int
}

// DateOf is the local calendar day of t in zone.
func DateOf(t time.Time, zone *time.Location) Date {
	y, m, d := t.In(zone).Date()
	return Date{y, m, d}
}

// Start is the local midnight that begins the day.
func (d Date) Start(zone *time.Location) time.Time {
	return time.Date(d.Y, d.M, d.D, 0, 0, 0, 0, zone)
}

// Next is the day after.
func (d Date) Next() Date {
	y, m, dd := time.Date(d.Y, d.M, d.D+1, 0, 0, 0, 0, time.UTC).Date()
	return Date{y, m, dd}
}

// AddDays is the day n days later (earlier for n < 0).
func (d Date) AddDays(n int) Date {
	y, m, dd := time.Date(d.Y, d.M, d.D+n, 0, 0, 0, 0, time.UTC).Date()
	return Date{y, m, dd}
}

// daysBetween counts the calendar days from a to b (b - a).
func daysBetween(a, b Date) int {
	ta := time.Date(a.Y, a.M, a.D, 0, 0, 0, 0, time.UTC)
	tb := time.Date(b.Y, b.M, b.D, 0, 0, 0, 0, time.UTC)
	return int(math.Round(tb.Sub(ta).Hours() / 24))
}

// Span is a time range [From, To); a zero To is open.
type Span struct{ From, To time.Time }

func (s Span) overlaps(from, to time.Time) bool {
	return s.From.Before(to) && (s.To.IsZero() || s.To.After(from))
}

// Patient is a patient in the report's scope: when they were enrolled in
// remote monitoring (their monitoring episodes, as instants), and the
// local days with at least one reading.
type Patient struct {
	ID        string
	Monitored []Span
	DataDays  map[Date]bool
}

func (p Patient) monitoredIn(from, to time.Time) bool {
	for _, s := range p.Monitored {
		if s.overlaps(from, to) {
			return true
		}
	}
	return false
}

// Alert is an alert's lifecycle, without its value.
type Alert struct {
	Patient    string
	Severity   string
	FiredAt    time.Time
	AckedAt    time.Time
	ResolvedAt time.Time
	// ResolvedByHand: a clinician resolved it (not cleared by itself).
	ResolvedByHand bool
	// Outcome is the resolve's outcome ("" when none was given).
	Outcome     string
	EscalatedAt time.Time
}

// CareTime is a counted care-management time entry (not voided, not
// superseded), by its start.
type CareTime struct {
	Patient     string
	Start       time.Time
	Seconds     int
	Interactive bool
}

// Visit is an ended visit.
type Visit struct {
	Patient            string
	EndedAt            time.Time
	InteractiveSeconds int
}

// Input is what a report is computed from. Periods come from Periods;
// Alerts and Visits may hold more than the periods (they are filtered).
type Input struct {
	Zone    *time.Location
	Period  string
	Periods []Span
	// Now ends the last period early when it is under way: days not yet
	// lived are neither patient-days nor days without data.
	Now      time.Time
	Patients []Patient
	Alerts   []Alert
	Visits   []Visit
	// Time is the care-management time entries; like Alerts and Visits
	// it may hold more than the periods.
	Time []CareTime
	// NotRelevant tells whether an outcome counts as not clinically
	// relevant.
	NotRelevant func(outcome string) bool
}

// Periods cuts [from, to) into whole weeks or months in zone: the first
// starts at the period holding from, the last is the one holding the
// instant before to.
func Periods(period string, from, to time.Time, zone *time.Location) ([]Span, error) {
	if period != Week && period != Month {
		return nil, ErrPeriod
	}
	if !from.Before(to) || to.Sub(from) > MaxRange {
		return nil, ErrRange
	}
	start := floor(period, from, zone)
	var out []Span
	for start.Before(to) {
		end := next(period, start, zone)
		out = append(out, Span{start, end})
		start = end
	}
	return out, nil
}

func floor(period string, t time.Time, zone *time.Location) time.Time {
	l := t.In(zone)
	if period == Month {
		return time.Date(l.Year(), l.Month(), 1, 0, 0, 0, 0, zone)
	}
	back := (int(l.Weekday()) + 6) % 7 // days since Monday
	return time.Date(l.Year(), l.Month(), l.Day()-back, 0, 0, 0, 0, zone)
}

func next(period string, start time.Time, zone *time.Location) time.Time {
	if period == Month {
		return time.Date(start.Year(), start.Month()+1, 1, 0, 0, 0, 0, zone)
	}
	return time.Date(start.Year(), start.Month(), start.Day()+7, 0, 0, 0, 0, zone)
}

// DataFrom is the first instant whose readings a report over periods
// needs: the adherence window of the first period's end.
func DataFrom(periods []Span, zone *time.Location) time.Time {
	if len(periods) == 0 {
		return time.Time{}
	}
	end := DateOf(periods[0].To.Add(-time.Nanosecond), zone)
	return end.AddDays(-(Lookback - 1)).Start(zone)
}

// Row is one period's measures. A share or rate without a denominator
// is nil (shown as "no data", never as 0).
type Row struct {
	Start     time.Time     `json:"start"`
	End       time.Time     `json:"end"`
	Adherence Adherence     `json:"adherence"`
	Response  AlertResponse `json:"alert_response"`
	Burden    AlertBurden   `json:"alert_burden"`
	Visits    Visits        `json:"visits"`
}

// Adherence is measured over the Lookback days ending on the period's
// last day (or today, for the period under way).
type Adherence struct {
	// WindowStart and WindowEnd are the first and last local day counted.
	WindowStart string `json:"window_start"`
	WindowEnd   string `json:"window_end"`
	// Patients were enrolled in monitoring at some time in the window.
	Patients int `json:"patients"`
	// Adherent of them had readings on at least 16 days of the window.
	Adherent int      `json:"adherent"`
	Share    *float64 `json:"share"`
	// DaysSinceLastReading: from each patient's last day with readings
	// in the window to the window's last day (0: a reading that day);
	// the median and the largest; patients without a reading in the
	// window are counted apart.
	DaysSinceLastMedian *float64 `json:"days_since_last_reading_median"`
	DaysSinceLastMax    *int     `json:"days_since_last_reading_max"`
	NoReadings          int      `json:"patients_without_readings"`
}

// AlertResponse covers the alerts fired in the period.
type AlertResponse struct {
	Fired        int                  `json:"fired"`
	Acknowledged int                  `json:"acknowledged"`
	Escalated    int                  `json:"escalated"`
	BySeverity   map[string]*Severity `json:"by_severity"`
}

// Severity is the response to one severity's alerts. Times to acknowledge
// are nearest-rank percentiles, in seconds.
type Severity struct {
	Fired        int      `json:"fired"`
	Acknowledged int      `json:"acknowledged"`
	Escalated    int      `json:"escalated"`
	AckP50       *float64 `json:"ack_seconds_p50"`
	AckP90       *float64 `json:"ack_seconds_p90"`
}

// AlertBurden relates the alerts fired in the period to the patient-days
// monitored and to how clinicians resolved them.
type AlertBurden struct {
	// PatientDays: local days of the period (up to now) on which a
	// patient was enrolled in monitoring, summed over patients.
	PatientDays         int      `json:"patient_days"`
	Alerts              int      `json:"alerts"`
	AlertsPerPatientDay *float64 `json:"alerts_per_patient_day"`
	ResolvedByHand      int      `json:"resolved_by_hand"`
	// WithOutcome of those named an outcome; NotClinicallyRelevant of
	// those named one that counts as not clinically relevant.
	WithOutcome           int            `json:"with_outcome"`
	NotClinicallyRelevant int            `json:"not_clinically_relevant"`
	NotRelevantShare      *float64       `json:"not_clinically_relevant_share"`
	Outcomes              map[string]int `json:"outcomes"`
}

// Visits are the visits that ended in the period and the
// care-management time entries started in it, of the patients monitored
// in it, and per patient monitored.
type Visits struct {
	Patients int `json:"patients"`
	Visits   int `json:"visits"`
	// InteractiveMinutes are the visits' (patient and clinician both in
	// the call).
	InteractiveMinutes float64 `json:"interactive_minutes"`
	// EntryInteractiveMinutes are the time entries of an interactive
	// kind (phone calls); EntryNonInteractiveMinutes the others (data
	// review, plan adjustment).
	EntryInteractiveMinutes    float64  `json:"time_entry_interactive_minutes"`
	EntryNonInteractiveMinutes float64  `json:"time_entry_non_interactive_minutes"`
	VisitsPerPatient           *float64 `json:"visits_per_patient"`
	// MinutesPerPatient counts every minute of care management (visits
	// and entries); InteractiveMinutesPerPatient the interactive ones
	// (visits and phone calls).
	MinutesPerPatient            *float64 `json:"minutes_per_patient"`
	InteractiveMinutesPerPatient *float64 `json:"interactive_minutes_per_patient"`
}

// Compute measures every period of in.
func Compute(in Input) []Row {
	zone := in.Zone
	if zone == nil {
		zone = time.UTC
	}
	notRelevant := in.NotRelevant
	if notRelevant == nil {
		notRelevant = func(string) bool { return false }
	}
	rows := make([]Row, 0, len(in.Periods))
	for _, p := range in.Periods {
		end := p.To
		if !in.Now.IsZero() && in.Now.Before(end) {
			end = in.Now
		}
		row := Row{Start: p.From, End: p.To}
		row.Adherence = adherence(in.Patients, end, zone)
		inScope := map[string]bool{}
		for _, pt := range in.Patients {
			inScope[pt.ID] = true
		}
		row.Response, row.Burden = alertsOf(in.Alerts, inScope, p, notRelevant)
		for _, pt := range in.Patients {
			row.Burden.PatientDays += patientDays(pt, p.From, end, zone)
		}
		if row.Burden.PatientDays > 0 {
			row.Burden.AlertsPerPatientDay = ratio(row.Burden.Alerts, row.Burden.PatientDays)
		}
		row.Visits = visitsOf(in.Visits, in.Time, in.Patients, p, end)
		rows = append(rows, row)
	}
	return rows
}

func adherence(patients []Patient, end time.Time, zone *time.Location) Adherence {
	last := DateOf(end.Add(-time.Nanosecond), zone)
	first := last.AddDays(-(Lookback - 1))
	wFrom, wTo := first.Start(zone), last.Next().Start(zone)
	out := Adherence{WindowStart: first.String(), WindowEnd: last.String()}
	var since []int
	for _, p := range patients {
		if !p.monitoredIn(wFrom, wTo) {
			continue
		}
		out.Patients++
		days, latest := 0, -1
		for d, i := first, 0; i < Lookback; d, i = d.Next(), i+1 {
			if p.DataDays[d] {
				days++
				latest = i
			}
		}
		if days >= AdherentDays {
			out.Adherent++
		}
		if latest < 0 {
			out.NoReadings++
		} else {
			since = append(since, Lookback-1-latest)
		}
	}
	if out.Patients > 0 {
		out.Share = ratio(out.Adherent, out.Patients)
	}
	if len(since) > 0 {
		sort.Ints(since)
		n := len(since)
		m := float64(since[n/2])
		if n%2 == 0 {
			m = float64(since[n/2-1]+since[n/2]) / 2
		}
		out.DaysSinceLastMedian = &m
		mx := since[n-1]
		out.DaysSinceLastMax = &mx
	}
	return out
}

func alertsOf(all []Alert, inScope map[string]bool, p Span, notRelevant func(string) bool) (AlertResponse, AlertBurden) {
	resp := AlertResponse{BySeverity: map[string]*Severity{}}
	burden := AlertBurden{Outcomes: map[string]int{}}
	acks := map[string][]float64{}
	for _, a := range all {
		if !inScope[a.Patient] || a.FiredAt.Before(p.From) || !a.FiredAt.Before(p.To) {
			continue
		}
		s := resp.BySeverity[a.Severity]
		if s == nil {
			s = &Severity{}
			resp.BySeverity[a.Severity] = s
		}
		resp.Fired++
		s.Fired++
		burden.Alerts++
		if !a.AckedAt.IsZero() {
			resp.Acknowledged++
			s.Acknowledged++
			acks[a.Severity] = append(acks[a.Severity], a.AckedAt.Sub(a.FiredAt).Seconds())
		}
		if !a.EscalatedAt.IsZero() {
			resp.Escalated++
			s.Escalated++
		}
		if a.ResolvedByHand {
			burden.ResolvedByHand++
			if a.Outcome != "" {
				burden.WithOutcome++
				burden.Outcomes[a.Outcome]++
				if notRelevant(a.Outcome) {
					burden.NotClinicallyRelevant++
				}
			}
		}
	}
	for sev, xs := range acks {
		slices.Sort(xs)
		resp.BySeverity[sev].AckP50 = nearestRank(xs, 50)
		resp.BySeverity[sev].AckP90 = nearestRank(xs, 90)
	}
	if burden.WithOutcome > 0 {
		burden.NotRelevantShare = ratio(burden.NotClinicallyRelevant, burden.WithOutcome)
	}
	return resp, burden
}

// patientDays counts the local days of [from, end) on which the patient
// was enrolled at some time.
func patientDays(p Patient, from, end time.Time, zone *time.Location) int {
	if !end.After(from) {
		return 0
	}
	n := 0
	last := DateOf(end.Add(-time.Nanosecond), zone)
	for d := DateOf(from, zone); daysBetween(d, last) >= 0; d = d.Next() {
		if p.monitoredIn(d.Start(zone), d.Next().Start(zone)) {
			n++
		}
	}
	return n
}

func visitsOf(all []Visit, entries []CareTime, patients []Patient, p Span, end time.Time) Visits {
	// The visits and time of the patients monitored in the period, per
	// patient monitored: numerator and denominator of the same patients.
	out := Visits{}
	inScope := map[string]bool{}
	for _, pt := range patients {
		if pt.monitoredIn(p.From, end) {
			out.Patients++
			inScope[pt.ID] = true
		}
	}
	secs := 0
	for _, v := range all {
		if !inScope[v.Patient] || v.EndedAt.Before(p.From) || !v.EndedAt.Before(p.To) {
			continue
		}
		out.Visits++
		secs += v.InteractiveSeconds
	}
	inter, other := 0, 0
	for _, e := range entries {
		if !inScope[e.Patient] || e.Start.Before(p.From) || !e.Start.Before(p.To) {
			continue
		}
		if e.Interactive {
			inter += e.Seconds
		} else {
			other += e.Seconds
		}
	}
	out.InteractiveMinutes = round2(float64(secs) / 60)
	out.EntryInteractiveMinutes = round2(float64(inter) / 60)
	out.EntryNonInteractiveMinutes = round2(float64(other) / 60)
	if out.Patients > 0 {
		out.VisitsPerPatient = ratio(out.Visits, out.Patients)
		m := round2(float64(secs+inter+other) / 60 / float64(out.Patients))
		out.MinutesPerPatient = &m
		mi := round2(float64(secs+inter) / 60 / float64(out.Patients))
		out.InteractiveMinutesPerPatient = &mi
	}
	return out
}

// nearestRank is the p-th percentile of sorted xs by the nearest-rank
// method: the value at rank ceil(p/100 * n).
func nearestRank(xs []float64, p float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	rank := int(math.Ceil(p / 100 * float64(len(xs))))
	v := xs[max(rank, 1)-1]
	return &v
}

func ratio(a, b int) *float64 {
	v := round4(float64(a) / float64(b))
	return &v
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }
func round4(x float64) float64 { return math.Round(x*10000) / 10000 }

func (d Date) String() string {
	return time.Date(d.Y, d.M, d.D, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
}

// Severities are the columns of the CSV, most severe first.
var Severities = []string{"critical", "high", "medium", "low"}

// CSVHeader names the columns of a report's CSV, one row a period.
func CSVHeader() []string {
	h := []string{"period_start", "period_end", "adherence_window_start", "adherence_window_end", "adherence_patients", "adherent_patients", "adherence_share",
		"days_since_last_reading_median", "days_since_last_reading_max", "patients_without_readings",
		"alerts_fired", "alerts_acknowledged", "alerts_escalated"}
	for _, s := range Severities {
		h = append(h, s+"_fired", s+"_acknowledged", s+"_escalated", s+"_ack_seconds_p50", s+"_ack_seconds_p90")
	}
	return append(h, "patient_days", "alerts_per_patient_day", "resolved_by_hand", "resolved_with_outcome", "resolved_not_clinically_relevant",
		"not_clinically_relevant_share", "visit_patients", "visits", "interactive_minutes", "visits_per_patient", "minutes_per_patient",
		"time_entry_interactive_minutes", "time_entry_non_interactive_minutes", "interactive_minutes_per_patient")
}

// CSVRecord is a period's row of the CSV; an empty cell is a measure
// without a denominator.
func (r Row) CSVRecord(zone *time.Location) []string {
	f := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'f', -1, 64)
	}
	i := strconv.Itoa
	rec := []string{r.Start.In(zone).Format(time.RFC3339), r.End.In(zone).Format(time.RFC3339), r.Adherence.WindowStart, r.Adherence.WindowEnd,
		i(r.Adherence.Patients), i(r.Adherence.Adherent), f(r.Adherence.Share), f(r.Adherence.DaysSinceLastMedian), "",
		i(r.Adherence.NoReadings), i(r.Response.Fired), i(r.Response.Acknowledged), i(r.Response.Escalated)}
	if r.Adherence.DaysSinceLastMax != nil {
		rec[8] = i(*r.Adherence.DaysSinceLastMax)
	}
	for _, s := range Severities {
		x := r.Response.BySeverity[s]
		if x == nil {
			x = &Severity{}
		}
		rec = append(rec, i(x.Fired), i(x.Acknowledged), i(x.Escalated), f(x.AckP50), f(x.AckP90))
	}
	mins := r.Visits.InteractiveMinutes
	return append(rec, i(r.Burden.PatientDays), f(r.Burden.AlertsPerPatientDay), i(r.Burden.ResolvedByHand), i(r.Burden.WithOutcome),
		i(r.Burden.NotClinicallyRelevant), f(r.Burden.NotRelevantShare), i(r.Visits.Patients), i(r.Visits.Visits), f(&mins),
		f(r.Visits.VisitsPerPatient), f(r.Visits.MinutesPerPatient), f(&r.Visits.EntryInteractiveMinutes), f(&r.Visits.EntryNonInteractiveMinutes),
		f(r.Visits.InteractiveMinutesPerPatient))
}
