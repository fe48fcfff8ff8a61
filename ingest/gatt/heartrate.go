package gatt

import (
	"time"

	"github.com/vitalwire/vitalwire/vitals"
)

// Contact is a heart rate sensor's skin contact, from its flags.
type Contact uint8

// Contact states (Heart Rate Measurement flags, bits 1-2).
const (
	ContactUnsupported Contact = iota // the sensor cannot tell
	ContactLost                       // supported, and not in contact: no valid heart rate
	ContactDetected                   // supported, and in contact
)

// HeartRate is a Heart Rate Measurement (0x2A37).
type HeartRate struct {
	// BPM is the heart rate in beats per minute (uint8 or uint16 on the
	// wire, by flag bit 0).
	BPM     uint16
	Contact Contact
	// EnergyKJ is the energy expended since it was last reset, in kJ.
	EnergyKJ  uint16
	HasEnergy bool
	// RR are the RR intervals the value carries, oldest first (1/1024 s
	// resolution on the wire).
	RR []time.Duration
}

// Heart Rate Measurement flags.
const (
	hrUint16      = 1 << 0
	hrContactOK   = 1 << 1 // contact detected
	hrContactSupp = 1 << 2 // contact detection supported
	hrEnergy      = 1 << 3
	hrRR          = 1 << 4
)

// DecodeHeartRate decodes a Heart Rate Measurement value.
func DecodeHeartRate(v []byte) (HeartRate, *vitals.RejectError) {
	r := reader{u: HeartRateMeasurement, b: v}
	var m HeartRate
	flags := r.u8("flags")
	if flags&hrUint16 != 0 {
		m.BPM = r.u16("heart rate (uint16)")
	} else {
		m.BPM = uint16(r.u8("heart rate (uint8)"))
	}
	switch {
	case flags&hrContactSupp == 0:
		m.Contact = ContactUnsupported
	case flags&hrContactOK == 0:
		m.Contact = ContactLost
	default:
		m.Contact = ContactDetected
	}
	if flags&hrEnergy != 0 {
		m.EnergyKJ, m.HasEnergy = r.u16("energy expended"), true
	}
	if flags&hrRR != 0 {
		// The RR intervals fill the rest of the value: at least one, and
		// whole uint16s.
		if r.err == nil && (len(r.b) == 0 || len(r.b)%2 != 0) {
			r.err = &vitals.RejectError{Reason: vitals.ReasonMalformed,
				Detail: "0x2A37 flags promise RR-intervals but the value's rest is not one or more whole uint16s"}
		}
		for r.err == nil && len(r.b) >= 2 {
			m.RR = append(m.RR, time.Duration(r.u16("RR-interval"))*time.Second/1024)
		}
	}
	if r.err != nil {
		return HeartRate{}, r.err
	}
	return m, nil
}

// Readings: the heart rate, refused when the sensor says it has no skin
// contact (the value is then no heart rate).
func (m HeartRate) Readings() []Reading {
	hr := Reading{Type: vitals.HeartRate, Unit: "/min", Value: float64(m.BPM)}
	if m.Contact == ContactLost {
		hr.Refused = flagged(HeartRateMeasurement, "sensor reports no skin contact")
	}
	return []Reading{hr}
}
