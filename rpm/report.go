package rpm

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/vitalwire/vitalwire/telehealth"
	"github.com/vitalwire/vitalwire/vitals"
)

// DayCounter is what the report needs of the vitals store: days with
// data, never values.
type DayCounter interface {
	DaysWithData(ctx context.Context, q vitals.DaysQuery) (map[string][]vitals.Day, error)
}

// VisitClock lists the visits started in [from, to) with their
// interactive seconds, patient and clinician both present
// (telehealth.Visits).
type VisitClock interface {
	InteractiveBetween(ctx context.Context, from, to time.Time) ([]telehealth.VisitTime, error)
}

// Roster is what the report needs of the chart: each patient's medical
// record number and time zone ("" for the clinic's).
type Roster interface {
	BillingIDs(ctx context.Context) (map[string][2]string, error)
}

// Sources are what a report reads besides the program's own records.
type Sources struct {
	Days   DayCounter
	Visits VisitClock
	Roster Roster
}

// Request selects a report.
type Request struct {
	Month string // YYYY-MM
	// Include decides which patients the caller may see (the access
	// policy and, with a care team, its members); nil: every patient.
	Include func(patient string) bool
}

// Report is the program's billing report for a month.
type Report struct {
	Month       string          `json:"month"`
	CareTeam    string          `json:"care_team,omitempty"`
	GeneratedAt time.Time       `json:"generated_at"`
	Patients    []PatientReport `json:"patients"`
}

// PatientReport is one patient's month: the counts the rules read, and a
// line per code.
type PatientReport struct {
	Patient    string   `json:"patient"`
	MRN        string   `json:"mrn"`
	TimeZone   string   `json:"time_zone"`
	Episodes   []string `json:"episodes"`
	Diagnoses  []string `json:"diagnoses"`
	Management string   `json:"management"`
	Periods    []Period `json:"periods"`
	Time       Time     `json:"time"`
	Lines      []Line   `json:"lines"`
}

// ParseMonth checks a YYYY-MM month.
func ParseMonth(s string) (time.Time, error) {
	m, err := time.Parse("2006-01", s)
	if err != nil || len(s) != 7 || m.Year() < 2000 || m.Year() > 2999 {
		return m, fmt.Errorf("%w: month: YYYY-MM", ErrInvalid)
	}
	return m, nil
}

// lookBack is how far before the month's end the report reads days with
// data (an episode's first billable period, for 99453): within the
// store's 400-day bound even when daylight saving time adds an hour.
const lookBack = 395

type member struct {
	id, mrn, zone string
	loc           *time.Location
	f             facts
	from          string // first date whose days are read
}

// Report builds the month's report of the patients req.Include admits,
// from the program's episodes and time entries, the visits' interactive
// seconds and the store's days with data.
func (p *Program) Report(ctx context.Context, src Sources, req Request) (Report, error) {
	m, err := ParseMonth(req.Month)
	if err != nil {
		return Report{}, err
	}
	monthStart := m.Format(time.DateOnly)
	monthEnd := m.AddDate(0, 1, -1).Format(time.DateOnly)
	known := plusDays(monthEnd, -lookBack)
	now := p.now()
	rep := Report{Month: req.Month, GeneratedAt: now.UTC(), Patients: []PatientReport{}}

	// Episodes with a day in the month or a period ending in it.
	rows, err := p.db.QueryContext(ctx, `SELECT `+episodeCols+` FROM monitoring_episodes
		WHERE start_date <= ? AND (end_date = '' OR end_date >= ?) ORDER BY patient, start_date`, monthEnd, plusDays(monthStart, -periodDays))
	if err != nil {
		return Report{}, fmt.Errorf("report episodes: %w", err)
	}
	members := map[string]*member{}
	var order []string
	for rows.Next() {
		e, err := scanEpisode(rows)
		if err != nil {
			rows.Close()
			return Report{}, fmt.Errorf("report episodes: %w", err)
		}
		if req.Include != nil && !req.Include(e.Patient) {
			continue
		}
		mb := members[e.Patient]
		if mb == nil {
			mb = &member{id: e.Patient, f: facts{days: map[string]bool{}}}
			members[e.Patient] = mb
			order = append(order, e.Patient)
		}
		mb.f.episodes = append(mb.f.episodes, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Report{}, fmt.Errorf("report episodes: %w", err)
	}
	if len(members) == 0 {
		return rep, nil
	}
	ids, err := src.Roster.BillingIDs(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("report patients: %w", err)
	}
	clinic := p.cfg.Location()
	// Days with data: one store query (grouped over chunks of patients)
	// per time zone and first date. A patient's first date is their
	// episode's start when 99453 looks back for its first billable
	// period, so episodes started on many days would make as many
	// groups: a group reads from its first date rounded back to a step of
	// 30 days (a few days more for some patients, never fewer), and each
	// patient's rules still know from their own first date.
	type group struct {
		loc  *time.Location
		from string
	}
	groups := map[group][]string{}
	for _, id := range order {
		mb := members[id]
		mb.mrn, mb.zone = ids[id][0], ids[id][1]
		mb.loc = clinic
		if loc, err := time.LoadLocation(mb.zone); mb.zone != "" && err == nil {
			mb.loc = loc
		} else {
			mb.zone = clinic.String()
		}
		mb.from = plusDays(monthStart, -periodDays)
		for _, e := range mb.f.episodes {
			if e.SetupDate != "" && e.Start < mb.from {
				mb.from = e.Start // 99453 looks for the episode's first billable period
			}
		}
		if mb.from < known {
			mb.from = known
		}
		mb.f.known = mb.from
		g := group{mb.loc, groupFrom(mb.from, plusDays(monthStart, -periodDays), known)}
		groups[g] = append(groups[g], id)
	}
	for g, pts := range groups {
		from, _ := time.ParseInLocation(time.DateOnly, g.from, g.loc)
		to, _ := time.ParseInLocation(time.DateOnly, plusDays(monthEnd, 1), g.loc)
		got, err := src.Days.DaysWithData(ctx, vitals.DaysQuery{Patients: pts, From: from, To: to, Location: g.loc})
		if err != nil {
			return Report{}, fmt.Errorf("report days with data: %w", err)
		}
		for pt, ds := range got {
			if mb := members[pt]; mb != nil {
				for _, d := range ds {
					mb.f.days[d.Date] = true
				}
			}
		}
	}
	// Time: entries and visits started in the month, in each patient's
	// zone (read with a day's margin on each side, then kept per zone).
	lo, _ := time.Parse(time.DateOnly, monthStart)
	hi, _ := time.Parse(time.DateOnly, plusDays(monthEnd, 1))
	lo, hi = lo.Add(-26*time.Hour), hi.Add(26*time.Hour)
	inMonth := func(pt string, t time.Time) (*member, bool) {
		mb := members[pt]
		if mb == nil {
			return nil, false
		}
		return mb, t.In(mb.loc).Format("2006-01") == req.Month
	}
	erows, err := p.db.QueryContext(ctx, `SELECT t.patient, t.started_at, t.seconds, t.interactive FROM time_entries t
		WHERE t.started_at >= ? AND t.started_at < ? AND t.void = 0
		AND NOT EXISTS (SELECT 1 FROM time_entries c WHERE c.supersedes = t.id)`, lo.UnixMilli(), hi.UnixMilli())
	if err != nil {
		return Report{}, fmt.Errorf("report time entries: %w", err)
	}
	for erows.Next() {
		var pt string
		var start int64
		var secs int
		var inter bool
		if err := erows.Scan(&pt, &start, &secs, &inter); err != nil {
			erows.Close()
			return Report{}, fmt.Errorf("report time entries: %w", err)
		}
		if mb, ok := inMonth(pt, time.UnixMilli(start)); ok {
			mb.f.time.EntrySeconds += secs
			if inter {
				mb.f.time.Interactive++
			}
		}
	}
	erows.Close()
	if err := erows.Err(); err != nil {
		return Report{}, fmt.Errorf("report time entries: %w", err)
	}
	if src.Visits != nil {
		vs, err := src.Visits.InteractiveBetween(ctx, lo, hi)
		if err != nil {
			return Report{}, fmt.Errorf("report visits: %w", err)
		}
		for _, v := range vs {
			if mb, ok := inMonth(v.Patient, v.Start); ok && v.Seconds > 0 {
				mb.f.time.VisitSeconds += v.Seconds
				mb.f.time.Interactive++
			}
		}
	}
	for _, id := range order {
		mb := members[id]
		today := now.In(mb.loc).Format(time.DateOnly)
		mb.f.time.Seconds = mb.f.time.EntrySeconds + mb.f.time.VisitSeconds
		pr := evaluate(mb.f, req.Month, monthStart, monthEnd, today)
		if len(pr.Lines) == 0 {
			continue // an episode whose periods end before the month
		}
		pr.Patient, pr.MRN, pr.TimeZone = id, mb.mrn, mb.zone
		rep.Patients = append(rep.Patients, pr)
	}
	return rep, nil
}

// groupFrom rounds a patient's first date back to base minus a whole
// number of 30-day steps, not before known (the look-back's first date).
func groupFrom(from, base, known string) string {
	if from >= base {
		return from
	}
	f, _ := time.Parse(time.DateOnly, from)
	b, _ := time.Parse(time.DateOnly, base)
	back := int(b.Sub(f).Hours()/24+0.5) + groupStep - 1
	g := plusDays(base, -back/groupStep*groupStep)
	if g < known {
		return known
	}
	return g
}

// groupStep is the step, in days, of the first dates of the report's
// days queries.
const groupStep = 30

// evaluate applies the codes' rules to one patient's month.
func evaluate(f facts, month, monthStart, monthEnd, today string) PatientReport {
	pr := PatientReport{Episodes: []string{}, Diagnoses: []string{}, Periods: []Period{}, Lines: []Line{}}
	diag := map[string]bool{}
	active := false
	for _, e := range f.episodes {
		ps := periods(e, monthEnd)
		for i := range ps {
			f.count(&ps[i], today)
		}
		inMonth := false
		for _, p := range ps {
			if p.End >= monthStart && p.End <= monthEnd {
				pr.Periods = append(pr.Periods, p)
				pr.Lines = append(pr.Lines, supply(p)...)
				inMonth = true
			}
		}
		overlaps := e.Start <= monthEnd && (e.End == "" || e.End >= monthStart)
		if !inMonth && !overlaps {
			continue
		}
		pr.Episodes = append(pr.Episodes, e.ID)
		for _, d := range e.Diagnoses {
			if !diag[d] {
				diag[d] = true
				pr.Diagnoses = append(pr.Diagnoses, d)
			}
		}
		pr.Lines = append(pr.Lines, setup(e, ps, monthStart, monthEnd, f.known))
		if overlaps {
			active = true
			pr.Management = e.Management
		}
	}
	pr.Time = f.time
	if active {
		pr.Lines = append(pr.Lines, management(f.time, pr.Management, month)...)
	}
	sort.SliceStable(pr.Lines, func(i, j int) bool { return codeOrder(pr.Lines[i].Code) < codeOrder(pr.Lines[j].Code) })
	sort.Strings(pr.Diagnoses)
	return pr
}

func codeOrder(c string) int {
	return strings.Index("99453 99454 99445 99457 99458 99470 99091", c)
}
