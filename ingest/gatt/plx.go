package gatt

import "github.com/vitalwire/vitalwire/vitals"

// PLXSpotCheck is a PLX Spot-Check Measurement (0x2A5E).
type PLXSpotCheck struct {
	// SpO2 in percent, PulseRate in beats per minute.
	SpO2, PulseRate SFloat
	Time            DateTime
	HasTime         bool
	// ClockNotSet: the oximeter says its clock was never set, so its time
	// stamp is not a time.
	ClockNotSet bool
	Status      PLXStatus
	HasStatus   bool
	Sensor      PLXSensor
	HasSensor   bool
	// PAI is the pulse amplitude index, in percent.
	PAI    SFloat
	HasPAI bool
}

// SpO2PR is an SpO2 and pulse rate pair of a continuous measurement.
type SpO2PR struct{ SpO2, PulseRate SFloat }

// PLXContinuous is a PLX Continuous Measurement (0x2A5F): the normal
// pair, and optionally the fast- and slow-responding ones.
type PLXContinuous struct {
	SpO2PR
	Fast, Slow       SpO2PR
	HasFast, HasSlow bool
	Status           PLXStatus
	HasStatus        bool
	Sensor           PLXSensor
	HasSensor        bool
	PAI              SFloat
	HasPAI           bool
}

// PLXStatus is the Measurement Status field (uint16).
type PLXStatus uint16

// Measurement Status bits; 0-4 are reserved.
const (
	PLXOngoing       PLXStatus = 1 << 5
	PLXEarlyEstimate PLXStatus = 1 << 6
	PLXValidated     PLXStatus = 1 << 7
	PLXQualified     PLXStatus = 1 << 8
	PLXFromStorage   PLXStatus = 1 << 9
	PLXDemonstration PLXStatus = 1 << 10
	PLXTesting       PLXStatus = 1 << 11
	PLXCalibrating   PLXStatus = 1 << 12
	PLXUnavailable   PLXStatus = 1 << 13
	PLXQuestionable  PLXStatus = 1 << 14
	PLXInvalid       PLXStatus = 1 << 15
)

// PLXSensor is the Device and Sensor Status field (uint24).
type PLXSensor uint32

// Device and Sensor Status bits that make a value no patient measurement;
// the others (low perfusion, poor or erratic signal, questionable pulse,
// ...) are the oximeter's caveats and the value stands.
const (
	PLXEquipmentMalfunction PLXSensor = 1 << 1
	PLXSensorUnconnected    PLXSensor = 1 << 11
	PLXSensorMalfunction    PLXSensor = 1 << 14
	PLXSensorDisconnected   PLXSensor = 1 << 15
)

// PLX Spot-Check flags.
const (
	scTime        = 1 << 0
	scStatus      = 1 << 1
	scSensor      = 1 << 2
	scPAI         = 1 << 3
	scClockNotSet = 1 << 4
)

// PLX Continuous flags.
const (
	ctFast   = 1 << 0
	ctSlow   = 1 << 1
	ctStatus = 1 << 2
	ctSensor = 1 << 3
	ctPAI    = 1 << 4
)

// DecodePLXSpotCheck decodes a PLX Spot-Check Measurement value.
func DecodePLXSpotCheck(v []byte) (PLXSpotCheck, *vitals.RejectError) {
	r := reader{u: PLXSpotCheckMeasurement, b: v}
	var m PLXSpotCheck
	flags := r.u8("flags")
	m.SpO2 = r.sfloat("SpO2")
	m.PulseRate = r.sfloat("pulse rate")
	if flags&scTime != 0 {
		m.Time, m.HasTime = r.dateTime("time stamp")
	}
	if flags&scStatus != 0 {
		m.Status, m.HasStatus = PLXStatus(r.u16("measurement status")), true
	}
	if flags&scSensor != 0 {
		m.Sensor, m.HasSensor = PLXSensor(r.u24("device and sensor status")), true
	}
	if flags&scPAI != 0 {
		m.PAI, m.HasPAI = r.sfloat("pulse amplitude index"), true
	}
	m.ClockNotSet = flags&scClockNotSet != 0
	if m.ClockNotSet {
		m.HasTime = false
	}
	if r.err != nil {
		return PLXSpotCheck{}, r.err
	}
	return m, nil
}

// DecodePLXContinuous decodes a PLX Continuous Measurement value.
func DecodePLXContinuous(v []byte) (PLXContinuous, *vitals.RejectError) {
	r := reader{u: PLXContinuousMeasurement, b: v}
	var m PLXContinuous
	flags := r.u8("flags")
	m.SpO2 = r.sfloat("SpO2")
	m.PulseRate = r.sfloat("pulse rate")
	if flags&ctFast != 0 {
		m.Fast = SpO2PR{r.sfloat("fast SpO2"), r.sfloat("fast pulse rate")}
		m.HasFast = true
	}
	if flags&ctSlow != 0 {
		m.Slow = SpO2PR{r.sfloat("slow SpO2"), r.sfloat("slow pulse rate")}
		m.HasSlow = true
	}
	if flags&ctStatus != 0 {
		m.Status, m.HasStatus = PLXStatus(r.u16("measurement status")), true
	}
	if flags&ctSensor != 0 {
		m.Sensor, m.HasSensor = PLXSensor(r.u24("device and sensor status")), true
	}
	if flags&ctPAI != 0 {
		m.PAI, m.HasPAI = r.sfloat("pulse amplitude index"), true
	}
	if r.err != nil {
		return PLXContinuous{}, r.err
	}
	return m, nil
}

// Readings: SpO2 and the pulse rate as a heart rate, at the oximeter's
// time stamp when its clock is set.
func (m PLXSpotCheck) Readings() []Reading {
	return plxReadings(PLXSpotCheckMeasurement, m.SpO2PR(), m.Time, m.HasTime, m.status())
}

// SpO2PR returns the measurement's pair.
func (m PLXSpotCheck) SpO2PR() SpO2PR { return SpO2PR{m.SpO2, m.PulseRate} }

func (m PLXSpotCheck) status() *vitals.RejectError {
	return plxFlagged(m.Sensor, m.Status, plxHas{m.HasStatus, m.HasSensor})
}

// Readings: the normal-response SpO2 and pulse rate (the fast and slow
// ones are the same measurement filtered otherwise, and are not kept).
// A continuous measurement has no time stamp.
func (m PLXContinuous) Readings() []Reading {
	return plxReadings(PLXContinuousMeasurement, m.SpO2PR, DateTime{}, false,
		plxFlagged(m.Sensor, m.Status, plxHas{m.HasStatus, m.HasSensor}))
}

type plxHas struct{ status, sensor bool }

// plxFlagged refuses both readings when the oximeter says the value is no
// patient measurement.
func plxFlagged(sensor PLXSensor, status PLXStatus, has plxHas) *vitals.RejectError {
	if has.status {
		switch {
		case status&PLXUnavailable != 0:
			return &vitals.RejectError{Reason: vitals.ReasonDeviceFlagged, Detail: "oximeter reports the measurement unavailable"}
		case status&PLXInvalid != 0:
			return &vitals.RejectError{Reason: vitals.ReasonDeviceFlagged, Detail: "oximeter reports an invalid measurement"}
		case status&(PLXDemonstration|PLXTesting) != 0:
			return &vitals.RejectError{Reason: vitals.ReasonDeviceFlagged, Detail: "oximeter marks the data as demonstration or test data"}
		case status&PLXCalibrating != 0:
			return &vitals.RejectError{Reason: vitals.ReasonDeviceFlagged, Detail: "oximeter reports calibration ongoing"}
		}
	}
	if has.sensor {
		switch {
		case sensor&PLXEquipmentMalfunction != 0, sensor&PLXSensorMalfunction != 0:
			return &vitals.RejectError{Reason: vitals.ReasonDeviceFlagged, Detail: "oximeter reports an equipment or sensor malfunction"}
		case sensor&(PLXSensorUnconnected|PLXSensorDisconnected) != 0:
			return &vitals.RejectError{Reason: vitals.ReasonDeviceFlagged, Detail: "oximeter reports its sensor disconnected or not on the patient"}
		}
	}
	return nil
}

func plxReadings(u UUID, p SpO2PR, t DateTime, hasTime bool, flag *vitals.RejectError) []Reading {
	spo2 := Reading{Type: vitals.SpO2, Unit: "%", Time: t, HasTime: hasTime}
	pr := Reading{Type: vitals.HeartRate, Unit: "/min", Time: t, HasTime: hasTime}
	var s Special
	spo2.Value, s = p.SpO2.Value()
	spo2.Refused = number(u, "SpO2", s)
	pr.Value, s = p.PulseRate.Value()
	pr.Refused = number(u, "pulse rate", s)
	if flag != nil {
		f := *flag
		f.Detail = u.String() + " " + f.Detail
		spo2.Refused, pr.Refused = &f, &f
	}
	return []Reading{spo2, pr}
}
