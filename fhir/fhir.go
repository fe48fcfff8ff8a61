// Package fhir maps Vitalwire's records to FHIR R4 resources (JSON):
// Patient, Device, Observation (the vital-signs profile, from raw
// readings), Encounter (from a visit's chart entry), Bundle and
// OperationOutcome. It holds no state; the app serves it under /fhir/r4/.
package fhir

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/vitals"
)

// ContentType is the FHIR JSON media type.
const ContentType = "application/fhir+json"

// Resource is a FHIR resource as JSON.
type Resource = map[string]any

const (
	ucum            = "http://unitsofmeasure.org"
	categorySystem  = "http://terminology.hl7.org/CodeSystem/observation-category"
	vitalSignsProf  = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
	mrnSystem       = "urn:vitalwire:mrn"
	identifierType  = "http://terminology.hl7.org/CodeSystem/v2-0203"
	actCode         = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	participantType = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
)

func ref(kind, id string) Resource { return Resource{"reference": kind + "/" + id} }

func instant(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// Patient maps a chart record. The name as shown is the name's text.
// Its parts are the record's family and given names when it holds them;
// failing that, a name written "Family, Given Middle" (the order
// clinical systems export) is also given as family and given names, and
// any other as text only, since which word of a name is the family name
// differs between cultures. Gender is the record's administrative
// gender, when recorded.
func Patient(p chart.Patient) Resource {
	name := Resource{"use": "official", "text": p.Name}
	if p.Family != "" || len(p.Given) > 0 {
		if p.Family != "" {
			name["family"] = p.Family
		}
		if len(p.Given) > 0 {
			name["given"] = p.Given
		}
	} else if family, given, ok := strings.Cut(p.Name, ","); ok && strings.TrimSpace(family) != "" && len(strings.Fields(given)) > 0 {
		name["family"] = strings.TrimSpace(family)
		name["given"] = strings.Fields(given)
		name["text"] = strings.Join(strings.Fields(given), " ") + " " + strings.TrimSpace(family)
	}
	r := Resource{"resourceType": "Patient", "id": p.ID, "active": true,
		"identifier": []Resource{{"use": "usual", "type": Resource{"coding": []Resource{{"system": identifierType, "code": "MR", "display": "Medical record number"}}},
			"system": mrnSystem, "value": p.MRN}},
		"name": []Resource{name}}
	if p.Gender != "" {
		r["gender"] = p.Gender
	}
	if p.BirthDate != "" {
		r["birthDate"] = p.BirthDate
	}
	return r
}

// Device maps a registered device; patient is who it measures now ("" for
// none). Its type is the kind's IEEE 11073 device specialization where
// the kind has one.
func Device(d devices.Device, patient string) Resource {
	status := "active"
	if !d.RevokedAt.IsZero() {
		status = "inactive"
	}
	r := Resource{"resourceType": "Device", "id": d.ID, "status": status,
		"deviceName": []Resource{{"name": d.ID, "type": "user-friendly-name"}}}
	if k, ok := devices.KindOf(d.Kind); ok {
		t := Resource{"text": k.Label}
		if k.MDC.Code != "" {
			t["coding"] = []Resource{{"system": k.MDC.System, "code": k.MDC.Code, "display": k.MDC.Display}}
		}
		r["type"] = t
	} else if d.Kind != "" {
		r["type"] = Resource{"text": d.Kind}
	}
	if d.Serial != "" {
		r["serialNumber"] = d.Serial
	}
	if d.Model != "" {
		r["modelNumber"] = d.Model
	}
	if d.Manufacturer != "" {
		r["manufacturer"] = d.Manufacturer
	}
	if d.Status.Firmware != "" {
		r["version"] = []Resource{{"type": Resource{"text": "firmware"}, "value": d.Status.Firmware}}
	}
	if patient != "" {
		r["patient"] = ref("Patient", patient)
	}
	return r
}

// typeLetters name vital types inside Observation ids.
var typeLetters = map[vitals.Type]byte{vitals.HeartRate: 'h', vitals.RespiratoryRate: 'r', vitals.SpO2: 's',
	vitals.BodyTemperature: 't', vitals.BloodPressure: 'b', vitals.BodyWeight: 'w', vitals.BloodGlucose: 'g', vitals.Steps: 'p'}

func deviceTag(device string) string {
	h := sha256.Sum256([]byte(device))
	return hex.EncodeToString(h[:3])
}

// MaxID is the length limit of a FHIR id ([A-Za-z0-9\-\.]{1,64}).
const MaxID = 64

// longPrefix is how much of a patient id the long form of an Observation
// id keeps: with the 16 hex digits of the id's hash, the type and time
// (at most 11) and the device tag (6), and four dots, it fills 64.
const longPrefix = 28

// PatientHash is the part of a long Observation id that names the whole
// patient id: 64 bits of its SHA-256, in hex.
func PatientHash(patient string) string {
	h := sha256.Sum256([]byte(patient))
	return hex.EncodeToString(h[:8])
}

// ObservationID names a reading: patient, type, time in milliseconds and a
// tag of the device, e.g. "p1.h1a2b3c4d5.0f3a9c". When that would pass 64
// characters (a patient id of more than 46), the long form keeps the
// patient id's first 28 characters and a hash of the whole, and marks the
// type with an upper-case letter: "<28 chars>.<16 hex>.H1a2b3c4d5.0f3a9c".
func ObservationID(r vitals.Reading) string {
	letter, when, tag := typeLetters[r.Type], strconv.FormatInt(r.Time.UnixMilli(), 36), deviceTag(r.Device)
	if id := fmt.Sprintf("%s.%c%s.%s", r.Patient, letter, when, tag); len(id) <= MaxID {
		return id
	}
	return fmt.Sprintf("%s.%s.%c%s.%s", r.Patient[:longPrefix], PatientHash(r.Patient), letter-'a'+'A', when, tag)
}

// ErrBadID: an Observation id that names no reading.
var ErrBadID = errors.New("fhir: not an Observation id of this server")

// ObservationKey is what an Observation id names.
type ObservationKey struct {
	// Patient is the patient's id; in the long form it is "" and
	// PatientPrefix and PatientHash name the patient (Names).
	Patient                    string
	PatientPrefix, PatientHash string
	Type                       vitals.Type
	At                         time.Time
	// Tag is the device's tag (MatchesTag).
	Tag string
}

// Names reports whether the key is of the patient's readings.
func (k ObservationKey) Names(patient string) bool {
	if k.Patient != "" {
		return k.Patient == patient
	}
	return strings.HasPrefix(patient, k.PatientPrefix) && len(patient) > longPrefix && PatientHash(patient) == k.PatientHash
}

var hashRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

// ParseObservationID returns what an Observation id names. Ids of either
// form are read, and so are the ids of more than 64 characters this
// server gave long patient ids before the long form.
func ParseObservationID(id string) (ObservationKey, error) {
	var k ObservationKey
	i := strings.LastIndexByte(id, '.')
	if i < 0 {
		return k, ErrBadID
	}
	k.Tag = id[i+1:]
	rest := id[:i]
	j := strings.LastIndexByte(rest, '.')
	if j < 1 || j+2 > len(rest) {
		return k, ErrBadID
	}
	patient, mid := rest[:j], rest[j+1:]
	letter := mid[0]
	long := letter >= 'A' && letter <= 'Z'
	if long {
		letter += 'a' - 'A'
	}
	for t, l := range typeLetters {
		if l == letter {
			k.Type = t
		}
	}
	ms, perr := strconv.ParseInt(mid[1:], 36, 64)
	if k.Type == "" || perr != nil {
		return ObservationKey{}, ErrBadID
	}
	k.At = time.UnixMilli(ms).UTC()
	if !long {
		k.Patient = patient
		return k, nil
	}
	h := strings.LastIndexByte(patient, '.')
	if h != longPrefix || !hashRE.MatchString(patient[h+1:]) {
		return ObservationKey{}, ErrBadID
	}
	k.PatientPrefix, k.PatientHash = patient[:h], patient[h+1:]
	return k, nil
}

// MatchesTag reports whether a reading's device has the id's tag.
func MatchesTag(device, tag string) bool { return deviceTag(device) == tag }

func codeable(codes []vitals.Code) Resource {
	var cs []Resource
	for _, c := range codes {
		cs = append(cs, Resource{"system": c.System, "code": c.Code, "display": c.Display})
	}
	return Resource{"coding": cs, "text": codes[0].Display}
}

// withMDC adds a type's IEEE 11073 coding after its LOINC ones, as the
// HL7 Personal Health Device guide codes device observations.
func withMDC(codes []vitals.Code, mdc vitals.Code) []vitals.Code {
	if mdc.Code == "" {
		return codes
	}
	return append(codes[:len(codes):len(codes)], mdc)
}

func component(spec *vitals.Spec, i int) vitals.Code {
	if i < len(spec.ComponentMDC) {
		return spec.ComponentMDC[i]
	}
	return vitals.Code{}
}

func quantity(v float64, unit string) Resource {
	return Resource{"value": round(v), "unit": unit, "system": ucum, "code": unit}
}

func round(v float64) float64 { return math.Round(v*1000) / 1000 }

// category returns the Observation category: vital signs, except steps
// (activity) and glucose (laboratory, as the HL7 CGM guide has it).
func category(t vitals.Type) (code, display string) {
	switch t {
	case vitals.Steps:
		return "activity", "Activity"
	case vitals.BloodGlucose:
		return "laboratory", "Laboratory"
	}
	return "vital-signs", "Vital Signs"
}

// vitalProfiles are the HL7 vital-signs profiles of each vital sign,
// declared beside the vitalsigns base profile.
var vitalProfiles = map[vitals.Type]string{
	vitals.HeartRate:       "http://hl7.org/fhir/StructureDefinition/heartrate",
	vitals.RespiratoryRate: "http://hl7.org/fhir/StructureDefinition/resprate",
	vitals.SpO2:            "http://hl7.org/fhir/StructureDefinition/oxygensat",
	vitals.BodyTemperature: "http://hl7.org/fhir/StructureDefinition/bodytemp",
	vitals.BloodPressure:   "http://hl7.org/fhir/StructureDefinition/bp",
	vitals.BodyWeight:      "http://hl7.org/fhir/StructureDefinition/bodyweight",
}

// Glucose codes by how the sample was taken: a CGM measures interstitial
// fluid (as the HL7 CGM guide codes it), a glucometer capillary blood;
// a reading of a device of unknown kind is a glucose in blood.
var (
	glucoseCGM        = vitals.Code{System: vitals.LOINC, Code: "99504-3", Display: "Glucose [Mass/volume] in Interstitial fluid"}
	glucoseGlucometer = vitals.Code{System: vitals.LOINC, Code: "41653-7", Display: "Glucose [Mass/volume] in Capillary blood by Glucometer"}
)

// codes are the codes of a reading of typ by a device of kind.
func codes(spec *vitals.Spec, kind string) []vitals.Code {
	if spec.Type == vitals.BloodGlucose {
		switch kind {
		case "cgm":
			return []vitals.Code{glucoseCGM}
		case "glucometer":
			return []vitals.Code{glucoseGlucometer}
		}
	}
	return spec.Codes
}

// GlucoseCodeKind is the device kind a glucose code asks for ("" for the
// generic blood code), and whether code is a glucose code at all.
func GlucoseCodeKind(code string) (kind string, ok bool) {
	switch strings.TrimPrefix(code, vitals.LOINC+"|") {
	case glucoseCGM.Code:
		return "cgm", true
	case glucoseGlucometer.Code:
		return "glucometer", true
	}
	return "", false
}

// Observation maps a raw reading; encounter, when not "", is the visit the
// reading belongs to, and kind is the kind of the device that took it
// (the devices catalog; "" when unknown), which decides a glucose code.
func Observation(r vitals.Reading, encounter, kind string) Resource {
	spec, _ := vitals.Lookup(r.Type)
	cat, catDisplay := category(r.Type)
	o := Resource{"resourceType": "Observation", "id": ObservationID(r), "status": "final",
		"category":          []Resource{{"coding": []Resource{{"system": categorySystem, "code": cat, "display": catDisplay}}, "text": catDisplay}},
		"code":              codeable(withMDC(codes(spec, kind), spec.MDC)),
		"subject":           ref("Patient", r.Patient),
		"effectiveDateTime": instant(r.Time),
		"device":            ref("Device", r.Device),
	}
	if cat == "vital-signs" {
		profiles := []string{vitalSignsProf}
		if p := vitalProfiles[r.Type]; p != "" {
			profiles = append(profiles, p)
		}
		o["meta"] = Resource{"profile": profiles}
	}
	if encounter != "" {
		o["encounter"] = ref("Encounter", encounter)
	}
	if spec.IsPanel() {
		o["component"] = []Resource{
			{"code": codeable(withMDC(spec.Components[:1], component(spec, 0))), "valueQuantity": quantity(r.Value, spec.Canonical)},
			{"code": codeable(withMDC(spec.Components[1:2], component(spec, 1))), "valueQuantity": quantity(r.Diastolic, spec.Canonical)},
		}
	} else {
		o["valueQuantity"] = quantity(r.Value, spec.Canonical)
	}
	return o
}

// Categories are the Observation categories this server keeps, with the
// vital types of each.
func Categories() map[string][]vitals.Type {
	out := map[string][]vitals.Type{}
	for _, t := range vitals.Types() {
		c, _ := category(t)
		out[c] = append(out[c], t)
	}
	return out
}

// Encounter maps a visit's chart entry (the visit is virtual: class VR).
func Encounter(e chart.Encounter) Resource {
	var parts []Resource
	for _, p := range e.Participants {
		code, display := "PART", "Participation"
		switch p.Role {
		case "clinician":
			code, display = "PPRF", "primary performer"
		case "interpreter":
			code, display = "TRANS", "Translator"
		}
		parts = append(parts, Resource{
			"type":       []Resource{{"coding": []Resource{{"system": participantType, "code": code, "display": display}}}},
			"period":     period(p.Start, p.End),
			"individual": Resource{"display": p.Subject + " (" + p.Role + ")"},
		})
	}
	status := e.Status
	if status == "" {
		status = chart.EncounterFinished
	}
	r := Resource{"resourceType": "Encounter", "id": e.ID, "status": status,
		"class":   Resource{"system": actCode, "code": "VR", "display": "virtual"},
		"subject": ref("Patient", e.Patient),
		"period":  period(e.Start, e.End),
		"text":    Resource{"status": "generated", "div": narrative(e)},
	}
	if e.Version > 0 {
		meta := Resource{"versionId": strconv.Itoa(e.Version)}
		if !e.UpdatedAt.IsZero() {
			meta["lastUpdated"] = instant(e.UpdatedAt)
		}
		r["meta"] = meta
	}
	if len(parts) > 0 {
		r["participant"] = parts
	}
	return r
}

// period is a FHIR Period; an open one (end zero) has no end.
func period(start, end time.Time) Resource {
	p := Resource{"start": instant(start)}
	if !end.IsZero() {
		p["end"] = instant(end)
	}
	return p
}

// EncounterHistory is a history Bundle of an Encounter's versions, newest
// first (FHIR _history).
func EncounterHistory(base string, versions []chart.Encounter) Resource {
	entries := make([]Resource, 0, len(versions))
	for _, v := range versions {
		method, status := "PUT", "200 OK"
		if v.Version == 1 {
			method, status = "POST", "201 Created"
		}
		entries = append(entries, Resource{
			"fullUrl":  base + "/Encounter/" + v.ID,
			"resource": Encounter(v),
			"request":  Resource{"method": method, "url": "Encounter/" + v.ID},
			"response": Resource{"status": status, "etag": `W/"` + strconv.Itoa(v.Version) + `"`, "lastModified": instant(v.UpdatedAt)},
		})
	}
	return Resource{"resourceType": "Bundle", "type": "history", "total": len(entries), "entry": entries}
}

// narrative is the encounter's human-readable summary: the note, each
// vital's summary over the window, and the alerts.
func narrative(e chart.Encounter) string {
	var b strings.Builder
	b.WriteString(`<div xmlns="http://www.w3.org/1999/xhtml">`)
	if e.End.IsZero() {
		fmt.Fprintf(&b, "<p>Telehealth visit from %s (%s); readings from %s.</p>", instant(e.Start), html.EscapeString(e.Status), instant(e.WindowStart))
	} else {
		fmt.Fprintf(&b, "<p>Telehealth visit %s to %s; readings from %s.</p>", instant(e.Start), instant(e.End), instant(e.WindowStart))
	}
	if e.Note != "" {
		fmt.Fprintf(&b, "<p>Note: %s</p>", html.EscapeString(e.Note))
	}
	if len(e.Summaries) > 0 {
		b.WriteString("<table><tr><th>Vital</th><th>Count</th><th>Min</th><th>Max</th><th>Mean</th><th>Last</th></tr>")
		for _, s := range e.Summaries {
			last := strconv.FormatFloat(round(s.Last), 'f', -1, 64)
			if s.LastDia != nil {
				last += "/" + strconv.FormatFloat(round(*s.LastDia), 'f', -1, 64)
			}
			fmt.Fprintf(&b, "<tr><td>%s (%s)</td><td>%d</td><td>%v</td><td>%v</td><td>%v</td><td>%s</td></tr>",
				html.EscapeString(s.Type), html.EscapeString(s.Unit), s.Count, round(s.Min), round(s.Max), round(s.Mean), last)
		}
		b.WriteString("</table>")
	}
	if len(e.Alerts) > 0 {
		b.WriteString("<ul>")
		for _, a := range e.Alerts {
			fmt.Fprintf(&b, "<li>Alert %s (%s) at %s, value %v</li>", html.EscapeString(a.Rule), html.EscapeString(a.Severity), instant(a.FiredAt), round(a.Value))
		}
		b.WriteString("</ul>")
	}
	if len(e.Chat) > 0 {
		b.WriteString("<p>Chat during the visit:</p><ul>")
		for _, m := range e.Chat {
			fmt.Fprintf(&b, "<li>%s %s (%s): %s</li>", instant(m.At), html.EscapeString(m.Subject), html.EscapeString(m.Role), html.EscapeString(m.Text))
		}
		b.WriteString("</ul>")
	}
	b.WriteString("</div>")
	return b.String()
}

// Bundle wraps resources in a searchset (or collection) bundle; links are
// relation to URL.
func Bundle(kind string, base string, resources []Resource, total int, links [][2]string) Resource {
	entries := make([]Resource, 0, len(resources))
	for _, r := range resources {
		e := Resource{"fullUrl": base + "/" + r["resourceType"].(string) + "/" + r["id"].(string), "resource": r}
		if kind == "searchset" {
			e["search"] = Resource{"mode": "match"}
		}
		entries = append(entries, e)
	}
	b := Resource{"resourceType": "Bundle", "type": kind, "entry": entries}
	if kind == "searchset" {
		b["total"] = total
	}
	if len(links) > 0 {
		var ls []Resource
		for _, l := range links {
			ls = append(ls, Resource{"relation": l[0], "url": l[1]})
		}
		b["link"] = ls
	}
	if len(entries) == 0 {
		delete(b, "entry")
	}
	return b
}

// Outcome is an OperationOutcome with one issue.
func Outcome(severity, code, text string) Resource {
	return Resource{"resourceType": "OperationOutcome", "issue": []Resource{{"severity": severity, "code": code, "diagnostics": text}}}
}

// CodeType finds the vital type of a LOINC code ("8867-4" or
// "http://loinc.org|8867-4") or of an IEEE 11073 code with its system
// ("urn:iso:std:iso:11073:10101|150456").
func CodeType(code string) (vitals.Type, bool) {
	if sys, c, ok := strings.Cut(code, "|"); ok {
		if sys == vitals.MDC {
			for _, t := range vitals.Types() {
				if spec, _ := vitals.Lookup(t); c != "" && spec.MDC.Code == c {
					return t, true
				}
			}
			return "", false
		}
		// "|code" asks for a code with no system; every code here has one.
		if sys != vitals.LOINC {
			return "", false
		}
		code = c
	}
	if _, ok := GlucoseCodeKind(code); ok {
		return vitals.BloodGlucose, true
	}
	for _, t := range vitals.Types() {
		spec, _ := vitals.Lookup(t)
		for _, c := range spec.Codes {
			if c.Code == code {
				return t, true
			}
		}
	}
	return "", false
}
