package rpm

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// daysFrom marks n consecutive days from start.
func daysFrom(start string, n int) map[string]bool {
	out := map[string]bool{}
	for i := 0; i < n; i++ {
		out[plusDays(start, i)] = true
	}
	return out
}

func line(t *testing.T, pr PatientReport, code string) Line {
	t.Helper()
	for _, l := range pr.Lines {
		if l.Code == code {
			return l
		}
	}
	t.Fatalf("no line %s in %+v", code, pr.Lines)
	return Line{}
}

// The expectations are the rules as docs/RPM.md states them, by hand.
func TestTheCodesRulesAtTheirEdges(t *testing.T) {
	ep := Episode{ID: "e1", Start: "2026-10-20", Diagnoses: []string{"I50.9"}, Management: Manage99457, SetupDate: "2026-10-20"}
	// Period 1: 2026-10-20..2026-11-18, period 2: 2026-11-19..2026-12-18.
	month := func(f facts, today string) PatientReport {
		f.known = "2025-01-01"
		return evaluate(f, "2026-11", "2026-11-01", "2026-11-30", today)
	}
	t.Run("16 days bill 99454 and not 99445; 15 days bill 99445 from 2026 and not 99454", func(t *testing.T) {
		pr := month(facts{episodes: []Episode{ep}, days: daysFrom("2026-10-25", 16)}, "2026-12-01")
		require.True(t, line(t, pr, "99454").Met)
		require.False(t, line(t, pr, "99445").Met)
		require.Equal(t, "2026-10-20/2026-11-18", line(t, pr, "99454").Period, "a period crossing months is billed in the month it ends")
		pr = month(facts{episodes: []Episode{ep}, days: daysFrom("2026-10-25", 15)}, "2026-12-01")
		require.False(t, line(t, pr, "99454").Met)
		require.True(t, line(t, pr, "99445").Met)
		require.Equal(t, 15, line(t, pr, "99445").DaysWithData)
	})
	t.Run("one day bills neither; before 2026 2-15 days bill nothing", func(t *testing.T) {
		pr := month(facts{episodes: []Episode{ep}, days: daysFrom("2026-10-25", 1)}, "2026-12-01")
		require.False(t, line(t, pr, "99454").Met)
		require.False(t, line(t, pr, "99445").Met)
		old := Episode{ID: "e0", Start: "2025-10-20", Management: Manage99457}
		pr = evaluate(facts{episodes: []Episode{old}, days: daysFrom("2025-10-25", 10), known: "2025-01-01"}, "2025-11", "2025-11-01", "2025-11-30", "2025-12-01")
		require.False(t, line(t, pr, "99445").Met)
		require.Contains(t, line(t, pr, "99445").Explanation, "from 2026")
	})
	t.Run("99453 comes once, with the first billable period after the set-up", func(t *testing.T) {
		pr := month(facts{episodes: []Episode{ep}, days: daysFrom("2026-10-25", 16)}, "2026-12-01")
		require.True(t, line(t, pr, "99453").Met)
		// The next month: the second period is billable, 99453 is not again.
		f := facts{episodes: []Episode{ep}, days: daysFrom("2026-10-20", 60), known: "2025-01-01"}
		pr = evaluate(f, "2026-12", "2026-12-01", "2026-12-31", "2027-01-05")
		require.True(t, line(t, pr, "99454").Met)
		require.False(t, line(t, pr, "99453").Met)
		noSetup := ep
		noSetup.SetupDate = ""
		pr = month(facts{episodes: []Episode{noSetup}, days: daysFrom("2026-10-25", 16)}, "2026-12-01")
		require.False(t, line(t, pr, "99453").Met)
	})
	t.Run("19:59 is not 20 minutes; 20:00 with a call is 99457; 99470 takes 10:00 to 19:59", func(t *testing.T) {
		pr := month(facts{episodes: []Episode{ep}, time: Time{Seconds: 1199, Interactive: 1}}, "2026-12-01")
		require.False(t, line(t, pr, "99457").Met)
		require.True(t, line(t, pr, "99470").Met)
		pr = month(facts{episodes: []Episode{ep}, time: Time{Seconds: 1200, Interactive: 1}}, "2026-12-01")
		require.True(t, line(t, pr, "99457").Met)
		require.False(t, line(t, pr, "99470").Met)
		require.False(t, line(t, pr, "99458").Met)
		pr = month(facts{episodes: []Episode{ep}, time: Time{Seconds: 3600, Interactive: 1}}, "2026-12-01")
		require.Equal(t, 2, line(t, pr, "99458").Units)
		pr = month(facts{episodes: []Episode{ep}, time: Time{Seconds: 3000}}, "2026-12-01")
		require.False(t, line(t, pr, "99457").Met, "no interactive communication")
		require.False(t, line(t, pr, "99470").Met)
		pr = month(facts{episodes: []Episode{ep}, time: Time{Seconds: 599, Interactive: 1}}, "2026-12-01")
		require.False(t, line(t, pr, "99470").Met)
	})
	t.Run("99091 when chosen, never with 99457", func(t *testing.T) {
		e := ep
		e.Management = Manage99091
		pr := month(facts{episodes: []Episode{e}, time: Time{Seconds: 1800, Interactive: 1}}, "2026-12-01")
		require.True(t, line(t, pr, "99091").Met)
		require.False(t, line(t, pr, "99457").Met)
		pr = month(facts{episodes: []Episode{e}, time: Time{Seconds: 1799}}, "2026-12-01")
		require.False(t, line(t, pr, "99091").Met)
	})
	t.Run("an open period is pending below 16 days and billed once it reaches 16", func(t *testing.T) {
		pr := evaluate(facts{episodes: []Episode{ep}, days: daysFrom("2026-11-19", 5), known: "2025-01-01"}, "2026-12", "2026-12-01", "2026-12-31", "2026-12-10")
		require.False(t, line(t, pr, "99454").Met)
		require.False(t, line(t, pr, "99445").Met)
		require.Contains(t, line(t, pr, "99454").Explanation, "open until 2026-12-18")
	})
}

func TestDiagnosisCodesAreCheckedForForm(t *testing.T) {
	for _, ok := range []string{"I50.9", "I10", "E11.9", "J44.9", "C4A.0", "S72.001A"} {
		require.True(t, ValidDiagnosis(ok), ok)
	}
	for _, bad := range []string{"", "150.9", "I5", "I50.", "I50.12345", "i50.9", "I50-9", "I50.9;DROP"} {
		require.False(t, ValidDiagnosis(bad), bad)
	}
}
