package rpm

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
)

// CSVHeader names the columns of WriteCSV.
var CSVHeader = []string{"month", "patient", "mrn", "time_zone", "diagnoses", "code", "met", "units", "period",
	"days_with_data", "minutes", "seconds", "reason"}

// WriteCSV writes the report as one row per patient and code (and
// period, for the device-supply codes); reason says why a code is met or
// why it is not.
func (r Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, p := range r.Patients {
		for _, l := range p.Lines {
			met := "no"
			if l.Met {
				met = "yes"
			}
			row := []string{r.Month, cell(p.Patient), cell(p.MRN), p.TimeZone, strings.Join(p.Diagnoses, " "), l.Code, met,
				strconv.Itoa(l.Units), l.Period, strconv.Itoa(l.DaysWithData), clock(l.Seconds), strconv.Itoa(l.Seconds), cell(l.Explanation)}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// cell keeps a spreadsheet from reading a value as a formula.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
