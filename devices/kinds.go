package devices

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/vitalwire/vitalwire/vitals"
)

// Kind is a kind of device a patient wears or uses at home: the registry
// accepts only these, so that a typo in a shipping list ("wacth") or a
// device that measures nothing Vitalwire knows ("toaster") is refused at
// enrolment, not discovered when no readings arrive.
type Kind struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	// Measures are the vital types the kind reports (informative: a
	// reading is not refused for coming from an unexpected kind).
	Measures []vitals.Type `json:"measures"`
	// MDC is the kind's IEEE 11073-10101 device specialization
	// (MDC_DEV_SPEC_PROFILE_*), zero for kinds that have none (a watch,
	// a ring and a patch measure several things under no one profile).
	MDC vitals.Code `json:"-"`
}

// The catalog of device kinds, in the order the UI offers them. The
// simulator's kinds (simulators/devices.go) are among them; a Bluetooth
// device relayed by a hub is registered as the kind it is (a cuff, an
// oximeter), not as the hub.
var kindCatalog = []Kind{
	{"watch", "Smartwatch", []vitals.Type{vitals.HeartRate, vitals.SpO2, vitals.Steps}, vitals.Code{}},
	{"ring", "Smart ring", []vitals.Type{vitals.SpO2, vitals.HeartRate}, vitals.Code{}},
	{"patch", "Chest patch", []vitals.Type{vitals.HeartRate, vitals.RespiratoryRate, vitals.BodyTemperature}, vitals.Code{}},
	{"cuff", "Blood pressure cuff", []vitals.Type{vitals.BloodPressure, vitals.HeartRate}, mdcDevice("528391", "MDC_DEV_SPEC_PROFILE_BPM")},
	{"oximeter", "Pulse oximeter", []vitals.Type{vitals.SpO2, vitals.HeartRate}, mdcDevice("528388", "MDC_DEV_SPEC_PROFILE_PULS_OXIM")},
	{"thermometer", "Thermometer", []vitals.Type{vitals.BodyTemperature}, mdcDevice("528392", "MDC_DEV_SPEC_PROFILE_TEMP")},
	{"scale", "Weighing scale", []vitals.Type{vitals.BodyWeight}, mdcDevice("528399", "MDC_DEV_SPEC_PROFILE_SCALE")},
	{"cgm", "Continuous glucose monitor", []vitals.Type{vitals.BloodGlucose}, mdcDevice("528409", "MDC_DEV_SPEC_PROFILE_CGM")},
	{"glucometer", "Blood glucose meter", []vitals.Type{vitals.BloodGlucose}, mdcDevice("528401", "MDC_DEV_SPEC_PROFILE_GLUCOSE")},
}

func mdcDevice(code, name string) vitals.Code {
	return vitals.Code{System: vitals.MDC, Code: code, Display: name}
}

// KindOf returns the catalog's kind of that name.
func KindOf(name string) (Kind, bool) {
	for _, k := range kindCatalog {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// ErrUnknownKind: the kind is not in the catalog of device kinds.
var ErrUnknownKind = errors.New("unknown device kind")

// Kinds returns the catalog of device kinds.
func Kinds() []Kind {
	out := make([]Kind, len(kindCatalog))
	for i, k := range kindCatalog {
		out[i] = k
		out[i].Measures = slices.Clone(k.Measures)
	}
	return out
}

// KindNames lists the kinds' names.
func KindNames() []string {
	out := make([]string, len(kindCatalog))
	for i, k := range kindCatalog {
		out[i] = k.Name
	}
	return out
}

// CheckKind accepts a kind of the catalog, or "" (a device registered
// without saying what it is). The error names the accepted kinds.
func CheckKind(kind string) error {
	if kind == "" || slices.ContainsFunc(kindCatalog, func(k Kind) bool { return k.Name == kind }) {
		return nil
	}
	shown := kind
	if len(shown) > 32 || !printable(shown) {
		shown = shown[:min(len(shown), 32)]
		shown = strings.Map(func(r rune) rune {
			if r < 0x20 || r > 0x7e {
				return '?'
			}
			return r
		}, shown)
	}
	return fmt.Errorf("%w %q: one of %s", ErrUnknownKind, shown, strings.Join(KindNames(), ", "))
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
