package gatt

import "github.com/vitalwire/vitalwire/vitals"

// Temperature is a Temperature Measurement (0x2A1C).
type Temperature struct {
	// Fahrenheit: the value is in degrees Fahrenheit; otherwise Celsius.
	Fahrenheit bool
	Value      Float
	Time       DateTime
	HasTime    bool
	// Site is where the temperature was taken, when the thermometer says.
	Site    Site
	HasSite bool
}

// Site is the Temperature Type field: where on the body.
type Site uint8

// Temperature Type values; 0 and 10-255 are reserved.
const (
	SiteArmpit Site = 1 + iota
	SiteBody
	SiteEar
	SiteFinger
	SiteGastroIntestinal
	SiteMouth
	SiteRectum
	SiteToe
	SiteTympanum
)

// Temperature Measurement flags.
const (
	tmFahrenheit = 1 << 0
	tmTime       = 1 << 1
	tmType       = 1 << 2
)

// DecodeTemperature decodes a Temperature Measurement value.
func DecodeTemperature(v []byte) (Temperature, *vitals.RejectError) {
	r := reader{u: TemperatureMeasurement, b: v}
	var m Temperature
	flags := r.u8("flags")
	m.Fahrenheit = flags&tmFahrenheit != 0
	m.Value = Float(r.u32("temperature"))
	if flags&tmTime != 0 {
		m.Time, m.HasTime = r.dateTime("time stamp")
	}
	if flags&tmType != 0 {
		m.Site, m.HasSite = Site(r.u8("temperature type")), true
	}
	if r.err != nil {
		return Temperature{}, r.err
	}
	return m, nil
}

// Readings: the body temperature in Cel or [degF], as sent.
func (m Temperature) Readings() []Reading {
	t := Reading{Type: vitals.BodyTemperature, Unit: "Cel", Time: m.Time, HasTime: m.HasTime}
	if m.Fahrenheit {
		t.Unit = "[degF]"
	}
	var s Special
	t.Value, s = m.Value.Value()
	t.Refused = number(TemperatureMeasurement, "temperature", s)
	return []Reading{t}
}
