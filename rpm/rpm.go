// Package rpm runs a remote patient monitoring program: monitoring
// episodes (who ordered them, the ICD-10-CM diagnoses that justify them,
// the device set-up), the care-management time clinicians spend, with
// corrections that supersede and never overwrite, and the monthly report
// of the program's CPT codes with each code's rule applied and explained.
//
// The report reads counts and minutes: the days on which a patient's
// devices sent readings (vitals.Store.DaysWithData), the seconds of time
// entries and the interactive seconds of video visits. It never reads a
// vital value. Access and audit are the caller's (httpapi, through
// auth.Policy.ProgramReport and the patient routes).
package rpm

import (
	"errors"
	"fmt"
	"time"
)

// Errors of the program.
var (
	// ErrInvalid: a field is missing or malformed; the message names it.
	ErrInvalid = errors.New("invalid")
	// ErrNotFound: no such episode or time entry for this patient.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the change would rewrite what is recorded (a second
	// set-up, an episode overlapping another, an entry corrected twice).
	ErrConflict = errors.New("conflict")
)

// Config is the program's section of the service configuration.
type Config struct {
	// TimeZone is the clinic's (an IANA name): the calendar of every
	// patient who has no time zone of their own, for days with data and
	// calendar months.
	TimeZone string `yaml:"time_zone"`
}

// DefaultConfig is UTC.
func DefaultConfig() Config { return Config{TimeZone: "UTC"} }

// Validate checks the time zone.
func (c Config) Validate() error {
	if _, err := time.LoadLocation(c.TimeZone); err != nil || c.TimeZone == "" || c.TimeZone == "Local" {
		return fmt.Errorf("time_zone: an IANA time zone name such as America/Chicago (got %q)", c.TimeZone)
	}
	return nil
}

// Location is the clinic's time zone (UTC when it does not load).
func (c Config) Location() *time.Location {
	if loc, err := time.LoadLocation(c.TimeZone); err == nil && c.TimeZone != "" {
		return loc
	}
	return time.UTC
}

// ValidTimeZone reports whether name is an IANA time zone a patient may
// have (not "Local", which is the server's).
func ValidTimeZone(name string) bool {
	if name == "" || name == "Local" || len(name) > 64 {
		return false
	}
	_, err := time.LoadLocation(name)
	return err == nil
}

// date parses a YYYY-MM-DD field, naming it in the error.
func date(field, s string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return d, fmt.Errorf("%w: %s: a date YYYY-MM-DD", ErrInvalid, field)
	}
	return d, nil
}

// clock shows seconds as minutes and seconds (19:59).
func clock(s int) string { return fmt.Sprintf("%d:%02d", s/60, s%60) }
