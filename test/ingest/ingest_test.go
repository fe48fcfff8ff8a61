// Package ingest_test holds the whole-service tests of getting readings
// in: through each broker into each store, exactly once, refused by reason,
// through outages, restarts and kills, over TLS, from devices offline for a
// while; and what devices say of themselves.
package ingest_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

func TestABatchIsStoredOnceWithCanonicalUnitsThroughEachBrokerIntoEachStore(t *testing.T) {
	t.Parallel()
	for _, broker := range []string{"embedded", "mosquitto"} {
		for _, store := range []string{"sqlite", "influx"} {
			t.Run(fmt.Sprintf("%s broker into %s", broker, store), func(t *testing.T) {
				cfg := harness.Config(t)
				if store == "influx" {
					harness.UseInflux(t, &cfg)
				}
				if broker == "mosquitto" {
					harness.UseMosquitto(t, &cfg)
				}
				svc := harness.Start(t, cfg)
				secret := svc.AddDevice(t, "patch-1", "patient-1")
				d := harness.Connect(t, svc.BrokerURL(), "patch-1", secret)

				now := time.Now().UTC().Truncate(time.Millisecond)
				msg := harness.Batch(1,
					harness.Reading(vitals.BodyTemperature, 100.4, "[degF]", now.Add(-3*time.Second)),
					harness.Reading(vitals.HeartRate, 72, "/min", now.Add(-2*time.Second)),
					`{"type":"blood_pressure","systolic":128,"diastolic":84,"unit":"mm[Hg]","time":"`+now.Add(-time.Second).Format(time.RFC3339Nano)+`"}`,
					harness.Reading(vitals.BloodGlucose, 5.5, "mmol/L", now.Add(-time.Second)),
				)
				d.Publish(msg)
				from, to := now.Add(-time.Minute), now.Add(time.Minute)
				svc.WaitCount(t, "patient-1", vitals.BodyTemperature, from, to, 1, 15*time.Second)
				temps := svc.Readings(t, "patient-1", vitals.BodyTemperature, from, to)
				require.Len(t, temps, 1)
				require.Equal(t, "Cel", temps[0].Unit)
				require.InDelta(t, 38.0, temps[0].Value, 1e-9, "100.4 [degF] is 38 Cel")
				require.Equal(t, "patch-1", temps[0].Device)
				require.True(t, temps[0].Time.Equal(now.Add(-3*time.Second)))

				bp := svc.Readings(t, "patient-1", vitals.BloodPressure, from, to)
				require.Len(t, bp, 1)
				require.Equal(t, 128.0, bp[0].Value)
				require.NotNil(t, bp[0].Diastolic)
				require.Equal(t, 84.0, *bp[0].Diastolic)
				glucose := svc.Readings(t, "patient-1", vitals.BloodGlucose, from, to)
				require.Len(t, glucose, 1)
				require.InDelta(t, 99.088, glucose[0].Value, 1e-9)
				require.Equal(t, "mg/dL", glucose[0].Unit)

				// The same message delivered three more times is stored once.
				for i := 0; i < 3; i++ {
					d.Publish(msg)
				}
				marker := now.Add(time.Second)
				d.Publish(harness.Reading(vitals.HeartRate, 99, "/min", marker))
				svc.WaitCount(t, "patient-1", vitals.HeartRate, from, to, 2, 15*time.Second)
				for _, typ := range []vitals.Type{vitals.BodyTemperature, vitals.HeartRate, vitals.BloodPressure, vitals.BloodGlucose} {
					want := 1
					if typ == vitals.HeartRate {
						want = 2 // the message's reading and the marker
					}
					require.Len(t, svc.Readings(t, "patient-1", typ, from, to), want, "%s stored once", typ)
				}
				// Four readings, each delivered three more times.
				require.Equal(t, 12.0, svc.Metrics(t)["vitalwire_readings_duplicate_total"])
			})
		}
	}
}

func TestAReboundDeviceAttributesReadingsByTheirTime(t *testing.T) {
	t.Parallel()
	svc := harness.Start(t, harness.Config(t))
	switchAt := time.Now().UTC().Add(-30 * time.Minute).Truncate(time.Second)
	secret := svc.AddDeviceFrom(t, "watch-7", "watch", "patient-1", switchAt.Add(-2*time.Hour))
	svc.Bind(t, "watch-7", "patient-2", switchAt)
	d := harness.Connect(t, svc.BrokerURL(), "watch-7", secret)

	// Late upload of buffered readings spanning the change, in one batch.
	var rs []string
	for i := -10; i < 10; i++ {
		rs = append(rs, harness.Reading(vitals.HeartRate, float64(70+i), "/min", switchAt.Add(time.Duration(i)*time.Minute)))
	}
	d.Publish(harness.Batch(1, rs...))
	from, to := switchAt.Add(-time.Hour), switchAt.Add(time.Hour)
	svc.WaitCount(t, "patient-2", vitals.HeartRate, from, to, 10, 15*time.Second)
	before := svc.Readings(t, "patient-1", vitals.HeartRate, from, to)
	after := svc.Readings(t, "patient-2", vitals.HeartRate, from, to)
	require.Len(t, before, 10)
	require.Len(t, after, 10)
	for _, r := range before {
		require.True(t, r.Time.Before(switchAt), "patient-1 has only readings before the change")
	}
	for _, r := range after {
		require.False(t, r.Time.Before(switchAt), "patient-2 has only readings from the change on")
	}
}

func TestBadMessagesAreRefusedByReasonAndTheGoodOnesBesideThemKept(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	m := harness.UseMosquitto(t, &cfg)
	// Three subscriber connections in one shared-subscription group: each
	// message reaches exactly one of them.
	cfg.MQTT.Connections = 3
	svc := harness.Start(t, cfg)
	goodSecret := svc.AddDevice(t, "good-1", "patient-1")
	svc.AddDevice(t, "unbound-1", "")
	svc.AddDevice(t, "revoked-1", "patient-1")
	svc.RevokeDevice(t, "revoked-1")

	// A listener on the rejects topics, as a device maker's debug tool.
	var reports atomic.Int64
	reasons := sync.Map{}
	lis := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(m.URL()).SetClientID("rejects-listener"))
	require.True(t, lis.Connect().WaitTimeout(10*time.Second))
	defer lis.Disconnect(100)
	tok := lis.Subscribe("vitalwire/v1/devices/+/rejects", 1, func(_ mqtt.Client, msg mqtt.Message) {
		var rep struct {
			Rejects []struct{ Reason string }
		}
		if json.Unmarshal(msg.Payload(), &rep) == nil {
			reports.Add(1)
			for _, r := range rep.Rejects {
				v, _ := reasons.LoadOrStore(r.Reason, new(atomic.Int64))
				v.(*atomic.Int64).Add(1)
			}
		}
	})
	require.True(t, tok.WaitTimeout(10*time.Second))

	good := harness.Connect(t, m.URL(), "good-1", goodSecret)
	// Mosquitto here allows anonymous publishers: the unknown, unbound and
	// revoked devices reach the ingester, which must refuse them itself.
	unknown := harness.Connect(t, m.URL(), "ghost-1", "x")
	unbound := harness.Connect(t, m.URL(), "unbound-1", "x")
	revoked := harness.Connect(t, m.URL(), "revoked-1", "x")

	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Millisecond) }
	reading := harness.Reading
	const perKind = 1000
	oversized := `{"type":"heart_rate","value":60,"unit":"/min","pad":"` + strings.Repeat("x", 70<<10) + `"}`
	type job struct {
		d       *harness.Device
		payload string
	}
	var jobs []job
	next := 0
	for i := 0; i < perKind; i++ {
		var good10 []string
		for j := 0; j < 10; j++ {
			good10 = append(good10, reading(vitals.HeartRate, float64(60+next%40), "/min", at(next)))
			next++
		}
		jobs = append(jobs,
			job{good, harness.Batch(i, good10...)},
			job{good, `{"type":"heart_rate","value":`},
			job{good, reading("mood", 1, "1", at(i))},
			job{good, reading(vitals.HeartRate, 60, "Hz", at(i))},
			job{good, reading(vitals.SpO2, 140, "%", at(i))},
			job{good, reading(vitals.HeartRate, 60, "/min", time.Now().Add(time.Hour))},
			job{unknown, reading(vitals.HeartRate, 60, "/min", at(i))},
			job{revoked, reading(vitals.HeartRate, 60, "/min", at(i))},
			job{unbound, reading(vitals.HeartRate, 60, "/min", at(i))},
			job{good, oversized},
		)
		// A batch with three good readings and two bad ones.
		mixed := []string{
			reading(vitals.HeartRate, float64(60+next%40), "/min", at(next)),
			`{"type":"heart_rate","unit":"/min","time":"` + at(next+1).Format(time.RFC3339Nano) + `"}`,
			reading(vitals.HeartRate, float64(60+(next+2)%40), "/min", at(next+2)),
			`{"type":"heart_rate","value":61,"unit":"/min","time":"last tuesday"}`,
			reading(vitals.HeartRate, float64(60+(next+4)%40), "/min", at(next+4)),
		}
		next += 5
		jobs = append(jobs, job{good, harness.Batch(i, mixed...)})
	}
	wantGood := int64(perKind*10 + perKind*3)

	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, j := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			j.d.Publish(j.payload)
		})
	}
	wg.Wait()
	from, to := base.Add(-time.Second), base.Add(time.Hour)
	svc.WaitCount(t, "patient-1", vitals.HeartRate, from, to, wantGood, 60*time.Second)
	n, _ := svc.Stats(t, "patient-1", vitals.HeartRate, from, to)
	require.Equal(t, wantGood, n, "every good reading stored, nothing else")

	want := map[vitals.Reason]float64{
		vitals.ReasonMalformed: perKind, vitals.ReasonUnknownType: perKind, vitals.ReasonWrongUnit: perKind,
		vitals.ReasonImplausible: perKind, vitals.ReasonFutureTime: perKind, vitals.ReasonUnknownDevice: perKind,
		vitals.ReasonRevoked: perKind, vitals.ReasonUnbound: perKind, vitals.ReasonOversized: perKind,
		vitals.ReasonMissingValue: perKind, vitals.ReasonBadTime: perKind,
	}
	var got map[string]float64
	require.Eventually(t, func() bool {
		got = svc.Metrics(t)
		return got["vitalwire_ingest_inflight_messages"] == 0
	}, 10*time.Second, 50*time.Millisecond, "the ingester drains: nothing stuck in flight")
	for reason, n := range want {
		require.Equal(t, n, got[fmt.Sprintf(`vitalwire_readings_refused_total{reason=%q}`, reason)], "refused for %s", reason)
	}
	require.Equal(t, float64(wantGood), got["vitalwire_readings_accepted_total"])

	// Every bad message was reported back on its device's rejects topic:
	// ten kinds of bad message per round.
	require.Eventually(t, func() bool { return reports.Load() == 10*perKind }, 10*time.Second, 50*time.Millisecond,
		"reports on rejects: %d", reports.Load())
	for reason, n := range want {
		v, ok := reasons.Load(string(reason))
		require.True(t, ok, "reason %s reported", reason)
		require.EqualValues(t, n, v.(*atomic.Int64).Load(), "reports of %s", reason)
	}
}
