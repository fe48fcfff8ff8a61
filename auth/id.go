package auth

import (
	"errors"
	"regexp"
)

// Ids. Every id the service takes from a caller (a patient, device, care
// team, visit or person in a path, a query or a body) and every subject a
// credential is made for has one form, checked before anything is looked
// up or written: 1-64 characters of A-Z a-z 0-9 '.' '_' '-', starting
// with a letter or digit. It is the form the chart and the device
// registry have always required when they create records (a patient's id
// is narrower still: no '_', as it is also a FHIR id), so an id outside it
// names nothing, and it bounds what a caller can make the audit log hold.

// ErrInvalidID: an id outside the form every record's id has.
var ErrInvalidID = errors.New("invalid id: 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit")

// MaxIDLen is the longest id.
const MaxIDLen = 64

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidID reports whether s has the form of an id.
func ValidID(s string) bool { return len(s) <= MaxIDLen && idRE.MatchString(s) }

// ValidUsername reports whether s has the form of a username
// ([a-z0-9._-]{3,64}).
func ValidUsername(s string) bool { return len(s) <= 64 && usernameRE.MatchString(s) }

// maxResource bounds an audit event's resource (a path built of a route
// and valid ids, or an aggregate's summary).
const maxResource = 1024

// maxActor bounds an event's actor. Subjects made since ids were checked
// are ids; older ones may hold other characters, but none is this long.
const maxActor = 256

// checkEvent refuses an event that holds what no valid request has: a
// patient that is not an id ("" for none, "*" for all), an overlong actor
// or resource. The callers validate first; this keeps the log bounded if
// one does not.
func checkEvent(e Event) error {
	if (e.Patient != "" && e.Patient != "*" && !ValidID(e.Patient)) || len(e.Actor) > maxActor || len(e.Resource) > maxResource {
		return ErrInvalidID
	}
	return nil
}
