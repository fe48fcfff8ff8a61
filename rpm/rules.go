package rpm

import (
	"fmt"
	"strconv"
	"time"
)

// The rules' numbers (CPT, as the Centers for Medicare & Medicaid
// Services pay them; see docs/RPM.md for the source and year of each).
const (
	periodDays       = 30   // a device-supply period
	fullSupplyDays   = 16   // 99454: 16-30 days with data
	shortSupplyDays  = 2    // 99445: 2-15 days (from 2026)
	mgmtFirstSeconds = 1200 // 99457: the first 20 minutes
	mgmtMoreSeconds  = 1200 // 99458: each further 20 minutes
	mgmtShortSeconds = 600  // 99470: the first 10 minutes (from 2026)
	interpretSeconds = 1800 // 99091: 30 minutes
	firstYear2026    = 2026 // 99445 and 99470 exist from 1 January 2026
)

// Line is one code of a patient's month: met or not, how many units, and
// why, in words a biller checks against the record.
type Line struct {
	Code string `json:"code"`
	Met  bool   `json:"met"`
	// Units is 1 for a met code, the count of further 20 minutes for
	// 99458, 0 when not met.
	Units int `json:"units"`
	// Period is the device-supply period (first/last day) of 99453,
	// 99454 and 99445.
	Period string `json:"period,omitempty"`
	// DaysWithData and Seconds are the counts the rule looked at.
	DaysWithData int `json:"days_with_data"`
	Seconds      int `json:"seconds"`
	// Explanation says why the code is met, or the reason it is not.
	Explanation string `json:"explanation"`
}

// Period is one 30-day device-supply period of an episode.
type Period struct {
	Episode      string `json:"episode"`
	Start        string `json:"start"`
	End          string `json:"end"` // the last day
	DaysWithData int    `json:"days_with_data"`
	// Open marks a period whose last day has not passed yet.
	Open bool `json:"open"`
}

// Time is a patient's care-management time in the month.
type Time struct {
	Seconds      int `json:"seconds"`
	EntrySeconds int `json:"entry_seconds"`
	VisitSeconds int `json:"visit_seconds"`
	// Interactive counts the real-time interactive communications: phone
	// calls recorded and video visits in which patient and clinician met.
	Interactive int `json:"interactive_communications"`
}

// facts are what the rules read of one patient.
type facts struct {
	episodes []Episode // by start
	// days holds the local dates with data from known on.
	days  map[string]bool
	known string // the first date days covers
	time  Time
}

// plusDays adds n days to a YYYY-MM-DD date.
func plusDays(d string, n int) string {
	t, _ := time.Parse(time.DateOnly, d)
	return t.AddDate(0, 0, n).Format(time.DateOnly)
}

// periods lists an episode's device-supply periods that start on or
// before last: 30 days each from the episode's start, the last one cut at
// the episode's end.
func periods(e Episode, last string) []Period {
	var out []Period
	for start := e.Start; start <= last && (e.End == "" || start <= e.End); start = plusDays(start, periodDays) {
		end := plusDays(start, periodDays-1)
		if e.End != "" && e.End < end {
			end = e.End
		}
		out = append(out, Period{Episode: e.ID, Start: start, End: end})
	}
	return out
}

func (f *facts) count(p *Period, today string) {
	p.DaysWithData = 0
	for d := p.Start; d <= p.End; d = plusDays(d, 1) {
		if f.days[d] {
			p.DaysWithData++
		}
	}
	p.Open = p.End >= today
}

// billable reports whether a period bills device supply: 16 days (even
// while open: more days cannot undo it), or from 2026 2-15 days once it
// has closed.
func billable(p Period) bool {
	return p.DaysWithData >= fullSupplyDays || (!p.Open && p.DaysWithData >= shortSupplyDays && year(p.End) >= firstYear2026)
}

func year(d string) int { y, _ := strconv.Atoi(d[:4]); return y }

func days(n int) string {
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

// supply applies 99454 and 99445 to a period that ends in the month.
func supply(p Period) []Line {
	span := p.Start + "/" + p.End
	l54 := Line{Code: "99454", Period: span, DaysWithData: p.DaysWithData}
	l45 := Line{Code: "99445", Period: span, DaysWithData: p.DaysWithData}
	have := fmt.Sprintf("%s with data in %s to %s", days(p.DaysWithData), p.Start, p.End)
	switch {
	case p.DaysWithData >= fullSupplyDays:
		l54.Met, l54.Units = true, 1
		l54.Explanation = have + " (16-30 needed)"
		l45.Explanation = "not billed: " + have + ", so 99454 applies (99445 is 2-15 days, never with 99454)"
	case p.Open:
		l54.Explanation = fmt.Sprintf("period open until %s: %s so far; 16 needed", p.End, days(p.DaysWithData))
		l45.Explanation = l54.Explanation + " for 99454, 2-15 bill 99445 once it closes"
	default:
		l54.Explanation = have + "; 16 needed"
		switch {
		case year(p.End) < firstYear2026:
			l45.Explanation = "99445 exists from 2026; this period ends in " + p.End[:4]
		case p.DaysWithData < shortSupplyDays:
			l45.Explanation = have + "; at least 2 needed"
		default:
			l45.Met, l45.Units = true, 1
			l45.Explanation = have + " (2-15)"
		}
	}
	return []Line{l54, l45}
}

// setup applies 99453 to an episode: once, with the first billable
// period that ends on or after the set-up.
func setup(e Episode, ps []Period, monthStart, monthEnd, known string) Line {
	l := Line{Code: "99453"}
	if e.SetupDate == "" {
		l.Explanation = "device set-up and education not recorded for episode " + e.ID
		return l
	}
	for _, p := range ps {
		if p.End < e.SetupDate || !billable(p) {
			continue
		}
		l.Period, l.DaysWithData = p.Start+"/"+p.End, p.DaysWithData
		switch {
		case p.Start < known:
			l.Explanation = "the episode's first billable period is before the report's look-back; billed then"
		case p.End < monthStart:
			l.Explanation = fmt.Sprintf("billed once per episode, with the first billable period %s to %s", p.Start, p.End)
		case p.End <= monthEnd:
			l.Met, l.Units = true, 1
			l.Explanation = fmt.Sprintf("set-up on %s; first billable period %s to %s (%s with data)", e.SetupDate, p.Start, p.End, days(p.DaysWithData))
		default:
			l.Explanation = "set-up on " + e.SetupDate + "; no billable period has ended in the month yet"
		}
		return l
	}
	l.Explanation = "set-up on " + e.SetupDate + "; monitoring has not reached a billable period yet"
	return l
}

// management applies 99457, 99458, 99470 and 99091 to the month's time.
func management(t Time, choice string, month string) []Line {
	mk := func(code string) Line { return Line{Code: code, Seconds: t.Seconds} }
	l57, l58, l70, l91 := mk("99457"), mk("99458"), mk("99470"), mk("99091")
	have := fmt.Sprintf("%s of care-management time in %s, %d interactive communication", clock(t.Seconds), month, t.Interactive)
	if t.Interactive != 1 {
		have += "s"
	}
	if choice == Manage99091 {
		not := "not billed: the program bills 99091 for this patient (never with 99457 in the same month)"
		l57.Explanation, l58.Explanation, l70.Explanation = not, not, not
		if t.Seconds >= interpretSeconds {
			l91.Met, l91.Units = true, 1
			l91.Explanation = fmt.Sprintf("%s of time in %s (30:00 needed)", clock(t.Seconds), month)
		} else {
			l91.Explanation = fmt.Sprintf("%s of time in %s; 30:00 needed", clock(t.Seconds), month)
		}
		return []Line{l57, l58, l70, l91}
	}
	l91.Explanation = "not chosen: the program bills 99457 for this patient's time"
	switch {
	case t.Seconds >= mgmtFirstSeconds && t.Interactive > 0:
		l57.Met, l57.Units = true, 1
		l57.Explanation = have + " (20:00 needed, with one interactive)"
	case t.Interactive == 0:
		l57.Explanation = have + "; at least one real-time interactive communication needed"
	default:
		l57.Explanation = have + "; 20:00 needed"
	}
	if l57.Met {
		n := (t.Seconds - mgmtFirstSeconds) / mgmtMoreSeconds
		if n > 0 {
			l58.Met, l58.Units = true, n
			l58.Explanation = fmt.Sprintf("%d further 20:00 after the first (%s in all)", n, clock(t.Seconds))
		} else {
			l58.Explanation = fmt.Sprintf("%s in all; 40:00 needed for a further 20 minutes", clock(t.Seconds))
		}
		l70.Explanation = "not billed: 99457 applies (99470 is only where 20 minutes are not reached)"
	} else {
		l58.Explanation = "99457 not met"
		switch {
		case year(month) < firstYear2026:
			l70.Explanation = "99470 exists from 2026"
		case t.Interactive == 0:
			l70.Explanation = have + "; at least one real-time interactive communication needed"
		case t.Seconds < mgmtShortSeconds:
			l70.Explanation = have + "; 10:00 needed"
		default:
			l70.Met, l70.Units = true, 1
			l70.Explanation = have + " (10:00-19:59, with one interactive)"
		}
	}
	return []Line{l57, l58, l70, l91}
}
