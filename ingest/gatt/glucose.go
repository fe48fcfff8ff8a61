package gatt

import "github.com/vitalwire/vitalwire/vitals"

// Glucose is a Glucose Measurement (0x2A18): one record of a glucose
// meter's store.
type Glucose struct {
	// Seq is the meter's record number.
	Seq uint16
	// Base is when the sample was taken, by the meter's clock; Offset (in
	// minutes) corrects it for clock changes since.
	Base      DateTime
	HasBase   bool
	Offset    int16
	HasOffset bool
	// Concentration is in kg/L, or mol/L when MolPerL.
	Concentration    SFloat
	MolPerL          bool
	HasConcentration bool
	Type             SampleType
	Location         SampleLocation
	Status           GlucoseStatus
	HasStatus        bool
	// ContextFollows: a Glucose Measurement Context with the same Seq
	// follows (it is not decoded).
	ContextFollows bool
}

// SampleType is the low nibble of the Type-Sample Location field.
type SampleType uint8

// Sample types; 0 and 11-15 are reserved.
const (
	CapillaryWholeBlood SampleType = 1 + iota
	CapillaryPlasma
	VenousWholeBlood
	VenousPlasma
	ArterialWholeBlood
	ArterialPlasma
	UndeterminedWholeBlood
	UndeterminedPlasma
	InterstitialFluid
	ControlSolution
)

// SampleLocation is the high nibble of the Type-Sample Location field.
type SampleLocation uint8

// Sample locations; 0 and 5-14 are reserved.
const (
	LocationFinger          SampleLocation = 1
	LocationAlternateSite   SampleLocation = 2
	LocationEarlobe         SampleLocation = 3
	LocationControlSolution SampleLocation = 4
	LocationNotAvailable    SampleLocation = 15
)

// GlucoseStatus is the Sensor Status Annunciation field.
type GlucoseStatus uint16

// Sensor Status Annunciation bits.
const (
	BatteryLow          GlucoseStatus = 1 << 0
	SensorMalfunction   GlucoseStatus = 1 << 1
	SampleTooSmall      GlucoseStatus = 1 << 2
	StripInsertionError GlucoseStatus = 1 << 3
	StripTypeIncorrect  GlucoseStatus = 1 << 4
	ResultTooHigh       GlucoseStatus = 1 << 5
	ResultTooLow        GlucoseStatus = 1 << 6
	SensorTooHot        GlucoseStatus = 1 << 7
	SensorTooCold       GlucoseStatus = 1 << 8
	ReadInterrupted     GlucoseStatus = 1 << 9
	GeneralFault        GlucoseStatus = 1 << 10
	TimeFault           GlucoseStatus = 1 << 11
)

// Glucose Measurement flags.
const (
	glOffset  = 1 << 0
	glConc    = 1 << 1
	glMolPerL = 1 << 2
	glStatus  = 1 << 3
	glContext = 1 << 4
)

// DecodeGlucose decodes a Glucose Measurement value.
func DecodeGlucose(v []byte) (Glucose, *vitals.RejectError) {
	r := reader{u: GlucoseMeasurement, b: v}
	var m Glucose
	flags := r.u8("flags")
	m.Seq = r.u16("sequence number")
	m.Base, m.HasBase = r.dateTime("base time")
	if flags&glOffset != 0 {
		m.Offset, m.HasOffset = int16(r.u16("time offset")), true
	}
	m.MolPerL = flags&glMolPerL != 0
	if flags&glConc != 0 {
		m.Concentration = r.sfloat("glucose concentration")
		ts := r.u8("type and sample location")
		m.Type, m.Location = SampleType(ts&0x0F), SampleLocation(ts>>4)
		m.HasConcentration = true
	}
	if flags&glStatus != 0 {
		m.Status, m.HasStatus = GlucoseStatus(r.u16("sensor status annunciation")), true
	}
	m.ContextFollows = flags&glContext != 0
	if r.err != nil {
		return Glucose{}, r.err
	}
	return m, nil
}

// invalidating are the sensor status bits after which the meter's result
// is no measurement of the patient (a low battery or a time fault leave
// the value as it is).
const invalidating = SensorMalfunction | SampleTooSmall | StripInsertionError | StripTypeIncorrect |
	ResultTooHigh | ResultTooLow | SensorTooHot | SensorTooCold | ReadInterrupted | GeneralFault

// Readings: the blood glucose in mg/dL (from kg/L) or mmol/L (from mol/L),
// at the base time plus the time offset. A record without a concentration,
// a control solution test or a result the meter flagged is refused.
func (m Glucose) Readings() []Reading {
	g := Reading{Type: vitals.BloodGlucose, Unit: "mg/dL", Time: m.Base, HasTime: m.HasBase, Offset: m.Offset}
	if !m.HasConcentration {
		g.Refused = &vitals.RejectError{Reason: vitals.ReasonMissingValue, Detail: "0x2A18 record carries no glucose concentration"}
		return []Reading{g}
	}
	// 1 kg/L is 10^5 mg/dL; 1 mol/L is 10^3 mmol/L.
	shift := 5
	if m.MolPerL {
		g.Unit, shift = "mmol/L", 3
	}
	var s Special
	g.Value, s = m.Concentration.Scaled(shift)
	g.Refused = number(GlucoseMeasurement, "glucose concentration", s)
	switch {
	case g.Refused != nil:
	case m.Type == ControlSolution || m.Location == LocationControlSolution:
		g.Refused = flagged(GlucoseMeasurement, "record is a control solution test, not a patient sample")
	case m.HasStatus && m.Status&(ResultTooHigh|ResultTooLow) != 0:
		g.Refused = flagged(GlucoseMeasurement, "meter reports the result outside what it can measure")
	case m.HasStatus && m.Status&invalidating != 0:
		g.Refused = flagged(GlucoseMeasurement, "meter reports a sensor, strip or sample fault for this result")
	}
	return []Reading{g}
}
