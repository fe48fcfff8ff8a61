// Package devices is the device registry: credentials (stored hashed),
// which patient a device measured over time, revocation, and status (last
// seen, battery, firmware, online/offline). It answers the two questions the
// ingest path asks of every message: may this device connect and publish,
// and whose reading is this at its time.
//
// The registry keeps all devices in memory (a fleet of 100,000 devices is a
// few tens of MB) and writes through to the records database, so the hot
// path never touches the database.
package devices

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/vitals"
)

// Errors returned by the registry.
var (
	// ErrNotFound: no device with that id.
	ErrNotFound = errors.New("device not found")
	// ErrExists: a device with that id is already registered.
	ErrExists = errors.New("device already exists")
	// ErrRevoked: the device's credentials were revoked.
	ErrRevoked = errors.New("device revoked")
	// ErrInvalidID: the id is not of the allowed form.
	ErrInvalidID = errors.New("invalid id: 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit")
	// ErrBindingOrder: a binding change is older than the device's last one.
	ErrBindingOrder = errors.New("binding change before the device's last binding change")
	// ErrInvalidLabel: a manufacturer, model or serial number too long or
	// holding control characters.
	ErrInvalidLabel = errors.New("invalid device label")
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidID reports whether s may name a device or a patient. The form keeps
// ids safe in MQTT topics, InfluxDB tags and file names.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// Binding attributes a device's readings in [From, To) to a patient; a zero
// To means still bound.
type Binding struct {
	Patient string    `json:"patient"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to,omitzero"`
}

// Status is what a device last said of itself.
type Status struct {
	Online   bool      `json:"online"`
	Battery  *float64  `json:"battery,omitempty"`
	Firmware string    `json:"firmware,omitempty"`
	LastSeen time.Time `json:"last_seen,omitzero"`
}

// Device is a registered device.
type Device struct {
	ID     string `json:"id"`
	Kind   string `json:"kind,omitempty"`
	Serial string `json:"serial,omitempty"`
	Model  string `json:"model,omitempty"`
	// Manufacturer is who made the device, as its label says.
	Manufacturer string    `json:"manufacturer,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	RevokedAt    time.Time `json:"revoked_at,omitzero"`
	Bindings     []Binding `json:"bindings"`
	Status       Status    `json:"status"`

	secretHash string
	mqttHash   string
	// verified caches the SHA-256 of a secret that passed argon2id, so a
	// reconnecting device does not pay the hash again.
	verified [32]byte
}

// Patient returns the patient the device was bound to at t.
func (d *Device) Patient(t time.Time) (string, bool) {
	// Bindings are few and sorted by From; scan from the newest.
	for i := len(d.Bindings) - 1; i >= 0; i-- {
		b := d.Bindings[i]
		if t.Before(b.From) {
			continue
		}
		if b.To.IsZero() || t.Before(b.To) {
			return b.Patient, true
		}
		return "", false
	}
	return "", false
}

// Revoked reports whether the device is revoked.
func (d *Device) Revoked() bool { return !d.RevokedAt.IsZero() }

// Registry is the device registry.
type Registry struct {
	db  *sql.DB
	now func() time.Time

	// hasher caps the argon2id checks running at once, shared with
	// people's sign-ins (nil: no cap).
	hasher *auth.Hasher

	mu      sync.RWMutex
	devices map[string]*Device
	dirty   map[string]bool // status changed since the last flush
	// pending holds the ids of a bulk enrolment being written, so that
	// no other enrolment takes them meanwhile.
	pending map[string]bool
}

// SetHasher runs the secret checks of Authenticate in h's slots.
func (r *Registry) SetHasher(h *auth.Hasher) { r.hasher = h }

// Open loads the registry from the records database.
func Open(ctx context.Context, db *sql.DB) (*Registry, error) {
	r := &Registry{db: db, now: time.Now, devices: map[string]*Device{}, dirty: map[string]bool{}, pending: map[string]bool{}}
	rows, err := db.QueryContext(ctx, `SELECT id, kind, serial, model, manufacturer, secret_hash, mqtt_hash, created_at, revoked_at,
		last_seen, online, battery, firmware FROM devices`)
	if err != nil {
		return nil, fmt.Errorf("load devices: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		d := &Device{}
		var created int64
		var revoked, seen sql.NullInt64
		var battery sql.NullFloat64
		if err := rows.Scan(&d.ID, &d.Kind, &d.Serial, &d.Model, &d.Manufacturer, &d.secretHash, &d.mqttHash, &created, &revoked, &seen,
			&d.Status.Online, &battery, &d.Status.Firmware); err != nil {
			return nil, fmt.Errorf("load devices: %w", err)
		}
		d.CreatedAt = time.Unix(0, created).UTC()
		if revoked.Valid {
			d.RevokedAt = time.Unix(0, revoked.Int64).UTC()
		}
		if seen.Valid {
			d.Status.LastSeen = time.Unix(0, seen.Int64).UTC()
		}
		if battery.Valid {
			b := battery.Float64
			d.Status.Battery = &b
		}
		r.devices[d.ID] = d
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load devices: %w", err)
	}
	brows, err := db.QueryContext(ctx, `SELECT device_id, patient, from_ns, to_ns FROM device_bindings ORDER BY device_id, from_ns`)
	if err != nil {
		return nil, fmt.Errorf("load bindings: %w", err)
	}
	defer brows.Close()
	for brows.Next() {
		var id string
		var b Binding
		var from int64
		var to sql.NullInt64
		if err := brows.Scan(&id, &b.Patient, &from, &to); err != nil {
			return nil, fmt.Errorf("load bindings: %w", err)
		}
		b.From = time.Unix(0, from).UTC()
		if to.Valid {
			b.To = time.Unix(0, to.Int64).UTC()
		}
		if d := r.devices[id]; d != nil {
			d.Bindings = append(d.Bindings, b)
		}
	}
	return r, brows.Err()
}

// Add registers a device of a kind of the catalog ("" for none said) and
// returns its secret, which is not stored and cannot be shown again.
func (r *Registry) Add(ctx context.Context, id, kind string) (secret string, err error) {
	return r.AddLabelled(ctx, id, kind, Labels{})
}

// Labels are what a device's maker prints on it; each is optional.
type Labels struct {
	Manufacturer string `json:"manufacturer,omitempty"`
	Model        string `json:"model,omitempty"`
	Serial       string `json:"serial,omitempty"`
}

// MaxManufacturer bounds a manufacturer's name, in characters.
const MaxManufacturer = 64

// Check says which label is bad, wrapping ErrInvalidLabel.
func (l Labels) Check() error {
	if n := utf8.RuneCountInString(l.Manufacturer); n > MaxManufacturer || !utf8.ValidString(l.Manufacturer) ||
		strings.ContainsFunc(l.Manufacturer, unicode.IsControl) {
		return fmt.Errorf("%w: manufacturer: at most %d characters, no control characters", ErrInvalidLabel, MaxManufacturer)
	}
	for _, f := range []struct{ name, v string }{{"serial", l.Serial}, {"model", l.Model}} {
		if len(f.v) > maxField || !printable(f.v) {
			return fmt.Errorf("%w: %s: at most %d printable ASCII characters", ErrInvalidLabel, f.name, maxField)
		}
	}
	return nil
}

// AddLabelled registers a device as Add does, with its maker's labels.
func (r *Registry) AddLabelled(ctx context.Context, id, kind string, l Labels) (secret string, err error) {
	if !ValidID(id) {
		return "", ErrInvalidID
	}
	if err := CheckKind(kind); err != nil {
		return "", err
	}
	l.Manufacturer, l.Model, l.Serial = strings.TrimSpace(l.Manufacturer), strings.TrimSpace(l.Model), strings.TrimSpace(l.Serial)
	if err := l.Check(); err != nil {
		return "", err
	}
	secret = auth.NewSecret()
	d := &Device{ID: id, Kind: kind, Serial: l.Serial, Model: l.Model, Manufacturer: l.Manufacturer, CreatedAt: r.now().UTC(),
		secretHash: auth.HashSecret(secret), mqttHash: auth.MosquittoHash(secret)}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.devices[id]; ok || r.pending[id] {
		return "", ErrExists
	}
	if _, err := r.db.ExecContext(ctx, `INSERT INTO devices (id, kind, serial, model, manufacturer, secret_hash, mqtt_hash, created_at) VALUES (?,?,?,?,?,?,?,?)`,
		id, kind, d.Serial, d.Model, d.Manufacturer, d.secretHash, d.mqttHash, d.CreatedAt.UnixNano()); err != nil {
		return "", fmt.Errorf("add device: %w", err)
	}
	r.devices[id] = d
	return secret, nil
}

// Bind attributes the device's readings from at onwards to patient, ending
// any binding still open at that time.
func (r *Registry) Bind(ctx context.Context, id, patient string, at time.Time) error {
	if !ValidID(patient) {
		return fmt.Errorf("patient: %w", ErrInvalidID)
	}
	return r.changeBinding(ctx, id, patient, at)
}

// Unbind ends the device's open binding at at.
func (r *Registry) Unbind(ctx context.Context, id string, at time.Time) error {
	return r.changeBinding(ctx, id, "", at)
}

func (r *Registry) changeBinding(ctx context.Context, id, patient string, at time.Time) error {
	at = at.UTC()
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.devices[id]
	if !ok {
		return ErrNotFound
	}
	if d.Revoked() {
		return ErrRevoked
	}
	bs := d.Bindings
	if n := len(bs); n > 0 && !at.After(bs[n-1].From) {
		return ErrBindingOrder
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	defer tx.Rollback()
	if err := closeOpenBinding(ctx, tx, id, at); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	if patient != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO device_bindings (device_id, patient, from_ns) VALUES (?,?,?)`, id, patient, at.UnixNano()); err != nil {
			return fmt.Errorf("bind: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	// Copy on write: Resolve callers may hold the old slice.
	nb := endOpen(bs, at, 1)
	if patient != "" {
		nb = append(nb, Binding{Patient: patient, From: at})
	}
	d.Bindings = nb
	return nil
}

func closeOpenBinding(ctx context.Context, tx *sql.Tx, id string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE device_bindings SET to_ns = ? WHERE device_id = ? AND to_ns IS NULL`, at.UnixNano(), id)
	return err
}

// endOpen returns a copy of bindings with the open one ended at at.
func endOpen(bs []Binding, at time.Time, extra int) []Binding {
	nb := make([]Binding, len(bs), len(bs)+extra)
	copy(nb, bs)
	if n := len(nb); n > 0 && nb[n-1].To.IsZero() {
		nb[n-1].To = at
	}
	return nb
}

// Revoke refuses the device's credentials from now on and ends its binding.
func (r *Registry) Revoke(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.devices[id]
	if !ok {
		return ErrNotFound
	}
	if d.Revoked() {
		return nil
	}
	now := r.now().UTC()
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE devices SET revoked_at = ? WHERE id = ?`, now.UnixNano(), id); err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	if err := closeOpenBinding(ctx, tx, id, now); err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	d.RevokedAt = now
	d.verified = [32]byte{}
	d.Bindings = endOpen(d.Bindings, now, 0)
	return nil
}

// Authenticate reports whether secret is the device's current secret and
// the device is not revoked.
func (r *Registry) Authenticate(id, secret string) bool {
	return r.Check(context.Background(), id, secret) == nil
}

// ErrCredentials: the device id and secret are not a device's current
// credentials (no such device, a wrong secret, or revoked).
var ErrCredentials = errors.New("device credentials not accepted")

// Check is Authenticate saying why not: ErrCredentials, or auth.ErrBusy
// when no device-secret slot came free in time (the caller should say
// "try again shortly", not "wrong secret"). ctx bounds the wait for a
// slot.
func (r *Registry) Check(ctx context.Context, id, secret string) error {
	sum := sha256.Sum256([]byte(secret))
	r.mu.RLock()
	d, ok := r.devices[id]
	var hash string
	var cached bool
	if ok {
		hash, cached = d.secretHash, d.verified == sum
		ok = !d.Revoked()
	}
	r.mu.RUnlock()
	if !ok {
		return ErrCredentials
	}
	if cached {
		return nil
	}
	// Busy (every slot taken for the whole wait) refuses this connection;
	// the device retries, and is counted in the hasher's metrics.
	good, err := r.hasher.Verify(ctx, hash, secret)
	if errors.Is(err, auth.ErrBusy) {
		return err
	}
	if err != nil || !good {
		return ErrCredentials
	}
	r.mu.Lock()
	if d.secretHash == hash && !d.Revoked() {
		d.verified = sum
	}
	r.mu.Unlock()
	return nil
}

// Active reports whether the device is registered and not revoked.
func (r *Registry) Active(id string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	d, ok := r.devices[id]
	return ok && !d.Revoked()
}

// Resolve attributes a reading of device at t to a patient, or says why it
// cannot be attributed.
func (r *Registry) Resolve(id string, t time.Time) (string, vitals.Reason) {
	r.mu.RLock()
	d, ok := r.devices[id]
	var bindings []Binding
	var revoked bool
	if ok {
		bindings, revoked = d.Bindings, d.Revoked()
	}
	r.mu.RUnlock()
	if !ok {
		return "", vitals.ReasonUnknownDevice
	}
	if revoked {
		return "", vitals.ReasonRevoked
	}
	p, bound := (&Device{Bindings: bindings}).Patient(t)
	if !bound {
		return "", vitals.ReasonUnbound
	}
	return p, ""
}

// Get returns a copy of a device.
func (r *Registry) Get(id string) (Device, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	d, ok := r.devices[id]
	if !ok {
		return Device{}, ErrNotFound
	}
	return d.public(), nil
}

func (d *Device) public() Device {
	c := *d
	c.Bindings = append([]Binding{}, d.Bindings...)
	c.secretHash, c.mqttHash, c.verified = "", "", [32]byte{}
	return c
}

// List returns every device, sorted by id.
func (r *Registry) List() []Device {
	r.mu.RLock()
	out := make([]Device, 0, len(r.devices))
	for _, d := range r.devices {
		out = append(out, d.public())
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Credential is a device's id with its Mosquitto password hash.
type Credential struct {
	ID, MosquittoHash string
}

// ActiveCredentials lists the Mosquitto hashes of every device not revoked.
func (r *Registry) ActiveCredentials() []Credential {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Credential
	for _, d := range r.devices {
		if !d.Revoked() {
			out = append(out, Credential{d.ID, d.mqttHash})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Seen records that the device sent something at t.
func (r *Registry) Seen(id string, t time.Time) {
	r.mu.Lock()
	if d, ok := r.devices[id]; ok && t.After(d.Status.LastSeen) {
		d.Status.LastSeen = t.UTC()
		r.dirty[id] = true
	}
	r.mu.Unlock()
}

// SetStatus records a device's status message (or its last will).
func (r *Registry) SetStatus(id string, online bool, battery *float64, firmware string, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.devices[id]
	if !ok {
		return
	}
	d.Status.Online = online
	if battery != nil {
		b := *battery
		d.Status.Battery = &b
	}
	if firmware != "" {
		d.Status.Firmware = firmware
	}
	if t.After(d.Status.LastSeen) {
		d.Status.LastSeen = t.UTC()
	}
	r.dirty[id] = true
}

// Flush writes changed statuses to the database.
func (r *Registry) Flush(ctx context.Context) error {
	r.mu.Lock()
	type row struct {
		id string
		st Status
	}
	rows := make([]row, 0, len(r.dirty))
	for id := range r.dirty {
		rows = append(rows, row{id, r.devices[id].Status})
	}
	r.dirty = map[string]bool{}
	r.mu.Unlock()
	if len(rows) == 0 {
		return nil
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("flush device status: %w", err)
	}
	defer tx.Rollback()
	for _, x := range rows {
		var seen any
		if !x.st.LastSeen.IsZero() {
			seen = x.st.LastSeen.UnixNano()
		}
		var battery any
		if x.st.Battery != nil {
			battery = *x.st.Battery
		}
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET last_seen = ?, online = ?, battery = ?, firmware = ? WHERE id = ?`,
			seen, x.st.Online, battery, x.st.Firmware, x.id); err != nil {
			return fmt.Errorf("flush device status: %w", err)
		}
	}
	return tx.Commit()
}

// Run flushes statuses every interval until ctx ends, then once more.
// Status is not patient data: a failed flush is retried at the next tick.
func (r *Registry) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return r.Flush(context.WithoutCancel(ctx))
		case <-t.C:
			// A failed flush loses only status freshness; the next one
			// writes the newer status.
			_ = r.Flush(ctx)
		}
	}
}

// ErrBadQuery: a search or cursor of the device list that cannot be one.
var ErrBadQuery = errors.New("invalid device search")

// Search returns a page of at most limit devices, in id order, after the
// id after ("" from the start), whose id, kind, serial, model,
// manufacturer, firmware or current patient holds q (any case; "" matches
// all), with how many match in all and the id to continue after ("" on
// the last page).
func (r *Registry) Search(q, after string, limit int) (page []Device, total int, next string, err error) {
	if len(q) > maxField || !printable(q) {
		return nil, 0, "", fmt.Errorf("%w: q is at most %d printable ASCII characters", ErrBadQuery, maxField)
	}
	if after != "" && !ValidID(after) {
		return nil, 0, "", fmt.Errorf("%w: after is a device id", ErrBadQuery)
	}
	if limit < 1 {
		return nil, 0, "", fmt.Errorf("%w: limit must be positive", ErrBadQuery)
	}
	q = strings.ToLower(q)
	now := r.now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	var hits []*Device
	for _, d := range r.devices {
		if q == "" || d.matches(q, now) {
			hits = append(hits, d)
		}
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].ID < hits[j].ID })
	start := sort.Search(len(hits), func(i int) bool { return hits[i].ID > after })
	end := min(start+limit, len(hits))
	for _, d := range hits[start:end] {
		page = append(page, d.public())
	}
	if end < len(hits) {
		next = hits[end-1].ID
	}
	return page, len(hits), next, nil
}

func (d *Device) matches(q string, now time.Time) bool {
	p, _ := d.Patient(now)
	for _, f := range []string{d.ID, d.Kind, d.Serial, d.Model, d.Manufacturer, d.Status.Firmware, p} {
		if strings.Contains(strings.ToLower(f), q) {
			return true
		}
	}
	return false
}
