// Package simulators makes simulated patients wearing simulated devices
// that publish readings over MQTT exactly as real devices do, with their own
// credentials. It is a client of the server: it speaks MQTT and imports only
// vitals of Vitalwire's packages.
package simulators

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/vitals"
)

// Device kinds the fleet simulates and what each measures.
const (
	Watch = "watch" // heart rate, SpO2
	Patch = "patch" // respiratory rate, body temperature
	Cuff  = "cuff"  // blood pressure, every tenth tick
)

// Kinds lists the device kinds every simulated patient wears.
var Kinds = []string{Watch, Patch, Cuff}

// Device is one simulated device with its credentials.
type Device struct {
	ID      string `json:"id"`
	Secret  string `json:"secret"`
	Kind    string `json:"kind"`
	Patient string `json:"patient"`
}

// Fleet publishes readings for a set of devices.
type Fleet struct {
	Broker   string // tcp://host:port
	Devices  []Device
	Interval time.Duration
	Seed     uint64
	Log      zerolog.Logger
	Now      func() time.Time
}

// Run connects every device and publishes until ctx ends.
func (f *Fleet) Run(ctx context.Context) error {
	if f.Now == nil {
		f.Now = time.Now
	}
	var wg sync.WaitGroup
	for i, d := range f.Devices {
		wg.Go(func() { f.runDevice(ctx, d, rand.New(rand.NewPCG(f.Seed, uint64(i)))) })
	}
	wg.Wait()
	return nil
}

// baseline is one simulated person's resting values.
type baseline struct {
	hr, spo2, rr, temp, sys, dia float64
}

func newBaseline(r *rand.Rand) baseline {
	return baseline{
		hr: 60 + 20*r.Float64(), spo2: 95 + 3*r.Float64(), rr: 12 + 5*r.Float64(),
		temp: 36.4 + 0.6*r.Float64(), sys: 110 + 25*r.Float64(), dia: 68 + 15*r.Float64(),
	}
}

type reading struct {
	Type      vitals.Type `json:"type"`
	Value     *float64    `json:"value,omitempty"`
	Systolic  *float64    `json:"systolic,omitempty"`
	Diastolic *float64    `json:"diastolic,omitempty"`
	Unit      string      `json:"unit"`
	Time      string      `json:"time"`
}

func round1(v float64) *float64 {
	v = math.Round(v*10) / 10
	return &v
}

func (f *Fleet) runDevice(ctx context.Context, d Device, r *rand.Rand) {
	status := func(online bool, battery float64) []byte {
		b, _ := json.Marshal(map[string]any{"online": online, "battery": math.Round(battery*100) / 100, "firmware": "sim-1.0"})
		return b
	}
	statusTopic := "vitalwire/v1/devices/" + d.ID + "/status"
	opts := mqtt.NewClientOptions().AddBroker(f.Broker).SetClientID(d.ID).
		SetUsername(d.ID).SetPassword(d.Secret).
		SetCleanSession(false).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).SetMaxReconnectInterval(5*time.Second).
		SetWill(statusTopic, `{"online":false}`, 1, true)
	battery := 0.6 + 0.4*r.Float64()
	opts.SetOnConnectHandler(func(c mqtt.Client) {
		c.Publish(statusTopic, 1, true, status(true, battery))
	})
	c := mqtt.NewClient(opts)
	c.Connect()
	defer c.Disconnect(250)

	// The per-person baseline comes from the patient id so that a patient's
	// devices agree with one another.
	var seed uint64
	for _, ch := range d.Patient {
		seed = seed*31 + uint64(ch)
	}
	b := newBaseline(rand.New(rand.NewPCG(seed, 7)))
	walk := 0.0
	tick := time.NewTicker(f.Interval)
	defer tick.Stop()
	var seq int64
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := f.Now().UTC()
		ts := now.Format(time.RFC3339Nano)
		walk = 0.9*walk + r.NormFloat64()
		var rs []reading
		switch d.Kind {
		case Watch:
			rs = append(rs,
				reading{Type: vitals.HeartRate, Value: round1(b.hr + 3*walk + r.NormFloat64()), Unit: "/min", Time: ts},
				reading{Type: vitals.SpO2, Value: round1(min(100, b.spo2+0.5*walk)), Unit: "%", Time: ts})
		case Patch:
			rs = append(rs,
				reading{Type: vitals.RespiratoryRate, Value: round1(b.rr + 0.8*walk), Unit: "/min", Time: ts},
				reading{Type: vitals.BodyTemperature, Value: round1(b.temp + 0.05*walk), Unit: "Cel", Time: ts})
		case Cuff:
			if n%10 != 0 {
				continue
			}
			rs = append(rs, reading{Type: vitals.BloodPressure, Systolic: round1(b.sys + 4*walk), Diastolic: round1(b.dia + 2*walk), Unit: "mm[Hg]", Time: ts})
		}
		seq++
		payload, _ := json.Marshal(map[string]any{"seq": seq, "readings": rs})
		// QoS 1: paho keeps the message and resends it until the broker
		// acknowledges it, across reconnects.
		c.Publish("vitalwire/v1/devices/"+d.ID+"/readings", 1, false, payload)
		if n%30 == 0 {
			battery = max(0.05, battery-0.001)
			c.Publish(statusTopic, 1, true, status(true, battery))
		}
	}
}

// DeviceID names a simulated patient's device.
func DeviceID(patient, kind string) string { return fmt.Sprintf("%s-%s", patient, kind) }
