package simulators

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"

	"github.com/vitalwire/vitalwire/topic"
)

// AlertProbe measures publish-to-alert latency: a probe device publishes a
// reading that trips a rule, and a clinician's live WebSocket times the
// alert's arrival. The next probe publishes a normal reading first, so the
// alert clears and each probe is a new episode. The server must have a rule
// that fires at once and clears at once on the probe vital, e.g.
// {id: probe, kind: threshold, vital: blood_glucose, below: 45, clear: 46}.
type AlertProbe struct {
	Broker   string
	Server   string // http(s) base URL
	Device   Device // bound to Patient, with its secret
	Token    string // a clinician of the patient's care team
	Rule     string // the rule id that fires
	Every    time.Duration
	Duration time.Duration
}

// ProbeReport is the probe's part of a load report.
type ProbeReport struct {
	Probes  int     `json:"probes"`
	Alerts  int     `json:"alerts_received"`
	P50Ms   float64 `json:"publish_to_alert_p50_ms"`
	P99Ms   float64 `json:"publish_to_alert_p99_ms"`
	MaxMs   float64 `json:"publish_to_alert_max_ms"`
	Missing int     `json:"alerts_missing"`
}

// Run probes until Duration has passed or ctx ends.
func (p *AlertProbe) Run(ctx context.Context) (ProbeReport, error) {
	ws := strings.Replace(strings.Replace(strings.TrimRight(p.Server, "/"), "https://", "wss://", 1), "http://", "ws://", 1)
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, ws+"/ws/v1/live?access_token="+url.QueryEscape(p.Token), nil)
	if err != nil {
		return ProbeReport{}, fmt.Errorf("probe websocket: %w", err)
	}
	defer conn.Close()
	if err := conn.WriteJSON(map[string]any{"type": "subscribe", "patients": []string{p.Device.Patient}}); err != nil {
		return ProbeReport{}, err
	}
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(p.Broker).SetClientID(p.Device.ID).
		SetUsername(p.Device.ID).SetPassword(p.Device.Secret).SetCleanSession(true))
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		return ProbeReport{}, fmt.Errorf("probe connect: %v", tok.Error())
	}
	defer c.Disconnect(100)

	var mu sync.Mutex
	sent := map[string]time.Time{} // alert reading time -> publish instant
	var lats []float64
	go func() {
		for {
			var m struct {
				Type  string
				Alert struct {
					Rule    string
					State   string
					FiredAt time.Time `json:"fired_at"`
				}
			}
			if conn.ReadJSON(&m) != nil {
				return
			}
			if m.Type != "alert" || m.Alert.Rule != p.Rule || m.Alert.State != "firing" {
				continue
			}
			now := time.Now()
			mu.Lock()
			key := m.Alert.FiredAt.UTC().Format(time.RFC3339Nano)
			if t0, ok := sent[key]; ok {
				lats = append(lats, float64(now.Sub(t0).Microseconds())/1000)
				delete(sent, key)
			}
			mu.Unlock()
		}
	}()
	readings := topic.Readings(p.Device.ID)
	publish := func(v float64, at time.Time) {
		payload := fmt.Sprintf(`{"type":"blood_glucose","value":%v,"unit":"mg/dL","time":%q}`, v, at.UTC().Format(time.RFC3339Nano))
		c.Publish(readings, 1, false, payload).WaitTimeout(10 * time.Second)
	}
	probes := 0
	end := time.Now().Add(p.Duration)
	for time.Now().Before(end) && ctx.Err() == nil {
		publish(100, time.Now()) // back to normal: the previous episode clears
		time.Sleep(p.Every / 2)  // pacing the probes
		at := time.Now()
		mu.Lock()
		sent[at.UTC().Format(time.RFC3339Nano)] = at
		mu.Unlock()
		publish(40, at)
		probes++
		time.Sleep(p.Every / 2)
	}
	time.Sleep(time.Second) // the last alert's flight time
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lats)
	r := ProbeReport{Probes: probes, Alerts: len(lats), P50Ms: quantile(lats, 0.5), P99Ms: quantile(lats, 0.99), Missing: probes - len(lats)}
	if len(lats) > 0 {
		r.MaxMs = lats[len(lats)-1]
	}
	return r, nil
}
