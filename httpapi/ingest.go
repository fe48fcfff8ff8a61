package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/vitals"
)

// Readings over HTTPS, for devices and vendor clouds that do not speak
// MQTT. A device posts the MQTT contract's payload to
// POST /api/v1/devices/{id}/readings with its own credentials (HTTP Basic:
// device id and secret; a person's token is no device credential); a
// vendor's cloud posts Standard Webhooks-signed batches for its devices
// to POST /api/v1/vendors/{vendor}/webhook. Both take the broker's path
// through the ingester, and a 2xx means what a PUBACK means: every good
// reading is durable, and the refused ones are listed with the reasons
// the rejects topic gives.

// Ingester takes one reading message of a device and returns once its
// good readings are durable, with the report; an error means the sender
// should send it again (a redelivery is stored once). The app wires the
// ingest.Ingester.
type Ingester interface {
	Ingest(ctx context.Context, device string, payload []byte) (ReadingsAnswer, error)
}

// ReadingsAnswer is the answer to a readings message posted over HTTP:
// the same report as the rejects topic's.
type ReadingsAnswer struct {
	Seq *int64 `json:"seq,omitempty"`
	// Accepted counts the readings that are durable (stored now, or by
	// an earlier delivery of the same message).
	Accepted int              `json:"accepted"`
	Rejects  []ReadingRefusal `json:"rejects"`
}

// ReadingRefusal is a refused reading (Index -1: the whole message).
type ReadingRefusal struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// whole reports the refusal of the whole message, if it was refused so.
func (a ReadingsAnswer) whole() (ReadingRefusal, bool) {
	if len(a.Rejects) == 1 && a.Rejects[0].Index == -1 {
		return a.Rejects[0], true
	}
	return ReadingRefusal{}, false
}

// WebhookEvent is the body of a vendor's webhook: Standard Webhooks'
// envelope, whose data lists reading messages by the vendor's device id.
// Events of other types are acknowledged and ignored.
type WebhookEvent struct {
	Type string           `json:"type"` // "readings"
	Data []WebhookMessage `json:"data"`
}

// WebhookMessage is one device's reading message (the MQTT contract's
// payload) under the vendor's id for the device.
type WebhookMessage struct {
	Device  string          `json:"device"`
	Message json.RawMessage `json:"message"`
}

// WebhookAnswer is the answer to a vendor's webhook: per message, what
// became of it.
type WebhookAnswer struct {
	// Duplicate: this webhook-id was answered 2xx before; nothing was
	// done again.
	Duplicate bool            `json:"duplicate,omitempty"`
	Ignored   bool            `json:"ignored,omitempty"` // not a readings event
	Results   []WebhookResult `json:"results"`
}

// WebhookResult is what became of one message of a webhook.
type WebhookResult struct {
	Device string `json:"device"` // the vendor's id for the device
	ReadingsAnswer
}

// IngestConfig is the http_ingest section: readings posted over HTTP.
type IngestConfig struct {
	// PerMinute and Burst limit each device's posts (default 120 a minute
	// after a burst of 120); past them, 429 with Retry-After.
	PerMinute int `yaml:"per_minute"`
	Burst     int `yaml:"burst"`
	// Wait is how long a post waits for its readings to be durable before
	// it is answered 503 with Retry-After (default 20 s). They may still
	// be stored; sent again, they are stored once.
	Wait time.Duration `yaml:"wait"`
	// Vendors are the vendor clouds whose signed webhooks are received.
	Vendors []VendorConfig `yaml:"vendors"`
}

// VendorConfig is one vendor cloud posting Standard Webhooks.
type VendorConfig struct {
	// Name is the {vendor} of the webhook's path.
	Name string `yaml:"name"`
	// SecretFile holds the webhook secret the vendor gave (whsec_...),
	// mode 0600: an HMAC needs the secret itself, so it cannot be hashed.
	SecretFile string `yaml:"secret_file"`
	// Devices maps the vendor's device ids to Vitalwire's. A message for
	// a device not listed is refused (unknown_device).
	Devices map[string]string `yaml:"devices"`
	// PerMinute and Burst limit the vendor's webhooks (default 600 a
	// minute after a burst of 100).
	PerMinute int `yaml:"per_minute"`
	Burst     int `yaml:"burst"`
}

// DefaultIngestConfig is the defaults, with no vendor.
func DefaultIngestConfig() IngestConfig {
	return IngestConfig{PerMinute: 120, Burst: 120, Wait: 20 * time.Second}
}

// vendorDeviceRE is the form of a vendor's device id: bounded, and
// nothing a log line should not hold.
var vendorDeviceRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$`)

// Validate checks the section, naming each bad field.
func (c IngestConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.PerMinute < 1 || c.PerMinute > 1_000_000 {
		bad("per_minute: must be 1-1000000")
	}
	if c.Burst < 1 || c.Burst > 1_000_000 {
		bad("burst: must be 1-1000000")
	}
	if c.Wait < 100*time.Millisecond || c.Wait > 5*time.Minute {
		bad("wait: must be between 100ms and 5m")
	}
	names := map[string]bool{}
	for i, v := range c.Vendors {
		f := fmt.Sprintf("vendors[%d].", i)
		if !auth.ValidID(v.Name) {
			bad("%sname: 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit", f)
		} else if names[v.Name] {
			bad(f+"name: %q is listed twice", v.Name)
		}
		names[v.Name] = true
		if v.SecretFile == "" {
			bad("%ssecret_file: is required (a 0600 file holding the vendor's whsec_ secret)", f)
		}
		if v.PerMinute < 0 || v.Burst < 0 {
			bad("%sper_minute, burst: must not be negative", f)
		}
		if len(v.Devices) > 1_000_000 {
			bad("%sdevices: at most 1000000", f)
		}
		for from, to := range v.Devices {
			if !vendorDeviceRE.MatchString(from) {
				bad(f+"devices: vendor id %.80q: 1-128 characters of A-Z a-z 0-9 . _ : @ -", from)
			}
			if !auth.ValidID(to) {
				bad(f+"devices[%s]: %.80q is not a device id", from, to)
			}
		}
	}
	return errors.Join(errs...)
}

// LoadKeys reads each vendor's webhook secret from its file.
func (c IngestConfig) LoadKeys() (map[string][]byte, error) {
	keys := map[string][]byte{}
	for i, v := range c.Vendors {
		k, err := auth.LoadWebhookSecret(v.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("http_ingest.vendors[%d].secret_file: %w", i, err)
		}
		keys[v.Name] = k
	}
	return keys, nil
}

const (
	// maxReadingsBody is the MQTT contract's 64 KiB (ingest.MaxPayload).
	maxReadingsBody = 64 << 10
	// webhookParallel bounds the messages of one webhook in flight.
	webhookParallel = 16
	// webhookSeenMax bounds the webhook-ids remembered per generation.
	webhookSeenMax = 100_000
)

// vendor is a configured vendor with its key and limit.
type vendor struct {
	name    string
	key     []byte
	devices map[string]string
	limit   *auth.Limiter
}

// ingestAPI is the HTTP side of ingestion.
type ingestAPI struct {
	access
	devices *devices.Registry
	ingest  Ingester
	wait    time.Duration
	limit   *auth.Limiter // per device
	vendors map[string]*vendor
	seen    *webhookIDs
	now     func() time.Time
	log     zerolog.Logger // sampled
}

func newIngestAPI(ac access, d Deps) ingestAPI {
	cfg := d.HTTPIngest
	def := DefaultIngestConfig()
	if cfg.PerMinute <= 0 {
		cfg.PerMinute = def.PerMinute
	}
	if cfg.Burst <= 0 {
		cfg.Burst = def.Burst
	}
	if cfg.Wait <= 0 {
		cfg.Wait = def.Wait
	}
	a := ingestAPI{access: ac, devices: d.Devices, ingest: d.Ingest, wait: cfg.Wait,
		// Keyed by authenticated device ids: as many keys as the fleet.
		limit:   auth.NewLimiter(cfg.PerMinute, cfg.Burst, 1<<20),
		vendors: map[string]*vendor{}, seen: newWebhookIDs(2 * auth.WebhookTolerance), now: time.Now,
		log: d.Log.With().Str("component", "http-ingest").Logger().
			Sample(&zerolog.BurstSampler{Burst: 20, Period: time.Second})}
	for _, v := range cfg.Vendors {
		key := d.VendorKeys[v.Name]
		if key == nil {
			continue // not loaded: its webhook is not served
		}
		per, burst := v.PerMinute, v.Burst
		if per <= 0 {
			per = 600
		}
		if burst <= 0 {
			burst = 100
		}
		a.vendors[v.Name] = &vendor{name: v.Name, key: key, devices: v.Devices, limit: auth.NewLimiter(per, burst, 1)}
	}
	return a
}

const (
	actionDeviceReadings = "POST /api/v1/devices/{id}/readings"
	actionVendorWebhook  = "POST /api/v1/vendors/{vendor}/webhook"
)

// deviceReadings takes a device's reading message.
func (a ingestAPI) deviceReadings(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	user, secret, ok := r.BasicAuth()
	var err error = devices.ErrCredentials
	if ok && auth.ValidID(user) && len(secret) <= 256 {
		err = a.devices.Check(r.Context(), user, secret)
	}
	switch {
	case errors.Is(err, auth.ErrBusy):
		busy(w)
		return
	case err != nil:
		// Counted with the source's other refusals of callers without
		// valid credentials (rate limited, aggregated in the audit log).
		a.log.Warn().Str("device", id).Str("source", clientAddr(r)).Msg("device credentials refused on HTTP")
		if !a.refused(w, r, auth.Claims{}, "", actionDeviceReadings) {
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="vitalwire devices", charset="UTF-8"`)
		fail(w, http.StatusUnauthorized, "device credentials required: HTTP Basic with the device id and its secret")
		return
	case user != id:
		fail(w, http.StatusForbidden, "a device posts only its own readings")
		return
	}
	if ok, retry := a.limit.Allow(id); !ok {
		tooMany(w, retry, "too many posts from this device")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReadingsBody+1))
	if err != nil {
		fail(w, http.StatusBadRequest, "could not read the body")
		return
	}
	ans, err := a.take(r.Context(), id, body)
	if err != nil {
		notYetDurable(w)
		return
	}
	status := http.StatusOK
	if rej, whole := ans.whole(); whole {
		status = http.StatusBadRequest
		if rej.Reason == string(vitals.ReasonOversized) {
			status = http.StatusRequestEntityTooLarge
		}
	}
	writeJSON(w, status, ans)
}

// take hands a message to the ingester and waits, at most the configured
// wait, until it is done.
func (a ingestAPI) take(ctx context.Context, device string, payload []byte) (ReadingsAnswer, error) {
	if a.ingest == nil {
		return ReadingsAnswer{}, errors.New("no ingester")
	}
	ctx, cancel := context.WithTimeout(ctx, a.wait)
	defer cancel()
	ans, err := a.ingest.Ingest(ctx, device, payload)
	if ans.Rejects == nil {
		ans.Rejects = []ReadingRefusal{}
	}
	return ans, err
}

// notYetDurable answers 503: the sender sends again, and what was stored
// meanwhile is stored once.
func notYetDurable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	fail(w, http.StatusServiceUnavailable, "readings not yet durable; send them again (they are stored once)")
}

// vendorWebhook takes a vendor cloud's signed webhook.
func (a ingestAPI) vendorWebhook(w http.ResponseWriter, r *http.Request) {
	v := a.vendors[r.PathValue("vendor")]
	if v == nil {
		fail(w, http.StatusNotFound, "no such vendor")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		fail(w, http.StatusBadRequest, "could not read the body")
		return
	}
	if len(body) > maxBody {
		fail(w, http.StatusRequestEntityTooLarge, "webhook body over 1 MiB")
		return
	}
	id := r.Header.Get("webhook-id")
	if err := auth.VerifyWebhook(v.key, id, r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), body,
		a.now(), auth.WebhookTolerance); err != nil {
		why := "bad signature"
		switch {
		case errors.Is(err, auth.ErrWebhookHeaders):
			why = "missing or malformed webhook headers"
		case errors.Is(err, auth.ErrWebhookTimestamp):
			why = "timestamp outside 5 min"
		}
		a.log.Warn().Str("vendor", v.name).Str("source", clientAddr(r)).Str("why", why).Msg("vendor webhook refused")
		if !a.refusedVendor(w, r, v.name, actionVendorWebhook+": "+why) {
			return
		}
		fail(w, http.StatusUnauthorized, "webhook not accepted: "+why)
		return
	}
	if ok, retry := v.limit.Allow(v.name); !ok {
		tooMany(w, retry, "too many webhooks from this vendor")
		return
	}
	// A replay within the tolerance (a retry of a delivery we answered,
	// or a copy) is acknowledged as it was; older ones fail the timestamp.
	if a.seen.has(v.name, id) {
		writeJSON(w, http.StatusOK, WebhookAnswer{Duplicate: true, Results: []WebhookResult{}})
		return
	}
	// The envelope first: the data of other event types has other shapes.
	var env struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		fail(w, http.StatusBadRequest, "invalid webhook body: "+err.Error())
		return
	}
	if env.Type != "readings" {
		a.seen.add(v.name, id)
		writeJSON(w, http.StatusOK, WebhookAnswer{Ignored: true, Results: []WebhookResult{}})
		return
	}
	var msgs []WebhookMessage
	if err := json.Unmarshal(env.Data, &msgs); err != nil {
		fail(w, http.StatusBadRequest, "invalid readings event: data must list {device, message}: "+err.Error())
		return
	}
	results, err := a.vendorMessages(r.Context(), v, msgs)
	if err != nil {
		notYetDurable(w)
		return
	}
	a.seen.add(v.name, id)
	writeJSON(w, http.StatusOK, WebhookAnswer{Results: results})
}

// refusedVendor audits a refused webhook as an event of its own, whose
// actor is the vendor it claimed to come from (as a refused sign-in names
// its username), with the source address; the source's refusals stay
// under auth.anonymous_per_minute, past which they are counted in its
// aggregated refusals and answered 429. On false it has answered.
func (a ingestAPI) refusedVendor(w http.ResponseWriter, r *http.Request, vendor, action string) bool {
	if a.door.anonymous != nil {
		if ok, retry := a.door.anonymous.Allow(auth.SourceKey(clientAddr(r))); !ok {
			if a.door.refusals != nil {
				if err := a.door.refusals.Refuse(r.Context(), "", request(r, action), true); err != nil {
					a.auditFailed(w, err)
					return false
				}
			}
			tooMany(w, retry, "too many refused webhooks from this address")
			return false
		}
	}
	if err := a.gate.Refused(r.Context(), auth.Claims{Subject: "vendor:" + vendor}, "", request(r, action)); err != nil {
		a.auditFailed(w, err)
		return false
	}
	return true
}

// vendorMessages takes a webhook's messages, several at once, each under
// the Vitalwire device the vendor's id maps to. An error means some were
// not answered in time: the vendor sends the webhook again.
func (a ingestAPI) vendorMessages(ctx context.Context, v *vendor, msgs []WebhookMessage) ([]WebhookResult, error) {
	results := make([]WebhookResult, len(msgs))
	errs := make([]error, len(msgs))
	sem := make(chan struct{}, webhookParallel)
	var wg sync.WaitGroup
	for i, m := range msgs {
		results[i].Device = m.Device
		device, mapped := v.devices[m.Device]
		if !mapped {
			results[i].Rejects = []ReadingRefusal{{Index: -1, Reason: string(vitals.ReasonUnknownDevice),
				Detail: "this vendor device id is not mapped to a Vitalwire device (http_ingest.vendors[].devices)"}}
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			results[i].ReadingsAnswer, errs[i] = a.take(ctx, device, m.Message)
		})
	}
	wg.Wait()
	return results, errors.Join(errs...)
}

// webhookIDs remembers the webhook-ids answered 2xx, per vendor, for at
// least ttl (two generations), at most webhookSeenMax a generation.
type webhookIDs struct {
	ttl       time.Duration
	mu        sync.Mutex
	since     time.Time
	cur, prev map[string]struct{}
}

func newWebhookIDs(ttl time.Duration) *webhookIDs {
	return &webhookIDs{ttl: ttl, since: time.Now(), cur: map[string]struct{}{}}
}

func (s *webhookIDs) rotate() {
	if time.Since(s.since) >= s.ttl || len(s.cur) >= webhookSeenMax {
		s.prev, s.cur, s.since = s.cur, map[string]struct{}{}, time.Now()
	}
}

func (s *webhookIDs) has(vendor, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rotate()
	k := vendor + "\x00" + id
	_, a := s.cur[k]
	_, b := s.prev[k]
	return a || b
}

func (s *webhookIDs) add(vendor, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rotate()
	s.cur[vendor+"\x00"+id] = struct{}{}
}
