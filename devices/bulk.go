package devices

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vitalwire/vitalwire/auth"
)

// A fleet is enrolled from its shipping list: a CSV whose first line
// names the columns (id and kind required; patient, serial and model
// optional; in any order), then one device a line. The enrolment is all
// or nothing: one bad row and no device is registered, and every bad row
// is named with its line and why.

// Errors of a bulk enrolment.
var (
	// ErrBulkRefused: the enrolment had bad rows (a *BulkError names
	// them); nothing was changed.
	ErrBulkRefused = errors.New("bulk enrolment refused; nothing was changed")
	// ErrTooManyRows: more rows than the enrolment may hold.
	ErrTooManyRows = errors.New("too many devices in one enrolment")
)

// maxRowErrors bounds the refusal's report; the rest are counted.
const maxRowErrors = 1000

// maxField bounds a serial number or a model name.
const maxField = 64

// NewDevice is one device of a bulk enrolment.
type NewDevice struct {
	Line    int // the CSV line it came from, for the report
	ID      string
	Kind    string
	Patient string // "" for none: bound later
	Serial  string
	Model   string
	// Manufacturer is who made it ("" for not said).
	Manufacturer string

	unreadable string // why the line could not be read as a device
}

// RowError names a refused row.
type RowError struct {
	Line   int    `json:"line"`
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason"`
}

// BulkError is a refused enrolment: its bad rows, in line order (at most
// maxRowErrors; More counts the rest).
type BulkError struct {
	Rows []RowError
	More int
}

func (e *BulkError) Error() string {
	return fmt.Sprintf("%v: bad rows: %d", ErrBulkRefused, len(e.Rows)+e.More)
}

// Is makes errors.Is(err, ErrBulkRefused) hold.
func (e *BulkError) Is(target error) bool { return target == ErrBulkRefused }

type rowErrors struct {
	BulkError
	lines map[int]bool // lines already refused
}

func (e *rowErrors) add(line int, id, format string, args ...any) {
	if e.lines == nil {
		e.lines = map[int]bool{}
	}
	e.lines[line] = true
	if len(e.Rows) >= maxRowErrors {
		e.More++
		return
	}
	if !ValidID(id) {
		id = "" // not echoed: it may be anything
	}
	e.Rows = append(e.Rows, RowError{Line: line, ID: id, Reason: fmt.Sprintf(format, args...)})
}

func (e *rowErrors) err() error {
	if len(e.Rows) == 0 {
		return nil
	}
	return &e.BulkError
}

// Enrolled is a registered device with its secret, shown this once.
type Enrolled struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

var csvColumns = map[string]bool{"id": true, "kind": true, "patient": true, "serial": true, "model": true, "manufacturer": true}

// ParseCSV reads a bulk enrolment of at most maxRows devices. A bad
// header is reported in a *BulkError; more rows than maxRows is
// ErrTooManyRows, found before the rest is read. A line that cannot be
// read as a device is kept, for CheckBulk and BulkAdd to report with the
// others.
func ParseCSV(in io.Reader, maxRows int) ([]NewDevice, error) {
	cr := csv.NewReader(in)
	cr.FieldsPerRecord = -1 // counted here, to name the line
	cr.ReuseRecord = true
	var bad rowErrors
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("empty")
		}
		bad.add(1, "", "header: %v (want a first line naming the columns, e.g. id,kind,patient,serial,model)", err)
		return nil, bad.err()
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch {
		case !csvColumns[h]:
			bad.add(1, "", "header: unknown column %q (the columns are id, kind, patient, serial, model, manufacturer)", clip(h))
		case col[h] != 0:
			bad.add(1, "", "header: column %s named twice", h)
		}
		col[h] = i + 1
	}
	for _, need := range []string{"id", "kind"} {
		if col[need] == 0 {
			bad.add(1, "", "header: no %s column", need)
		}
	}
	if err := bad.err(); err != nil {
		return nil, err
	}
	field := func(rec []string, name string) string {
		if i := col[name]; i > 0 {
			return strings.TrimSpace(rec[i-1])
		}
		return ""
	}
	var out []NewDevice
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				out = append(out, NewDevice{Line: pe.Line, unreadable: "not CSV: " + pe.Err.Error()})
				continue
			}
			return nil, fmt.Errorf("read CSV: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if len(out) >= maxRows {
			return nil, fmt.Errorf("%w: more than %d rows (bulk_max_rows)", ErrTooManyRows, maxRows)
		}
		if len(rec) != len(header) {
			out = append(out, NewDevice{Line: line, unreadable: fmt.Sprintf("%d fields where the header names %d", len(rec), len(header))})
			continue
		}
		out = append(out, NewDevice{Line: line, ID: field(rec, "id"), Kind: field(rec, "kind"), Patient: field(rec, "patient"),
			Serial: field(rec, "serial"), Model: field(rec, "model"), Manufacturer: field(rec, "manufacturer")})
	}
	return out, nil
}

// check says what is wrong with a row on its own ("" if nothing).
func (d NewDevice) check() string {
	switch {
	case d.unreadable != "":
		return d.unreadable
	case d.ID == "":
		return "no id"
	case !ValidID(d.ID):
		return "id " + ErrInvalidID.Error()
	case d.Kind == "":
		return "no kind: one of " + strings.Join(KindNames(), ", ")
	case CheckKind(d.Kind) != nil:
		return CheckKind(d.Kind).Error()
	case d.Patient != "" && !ValidID(d.Patient):
		return "patient " + ErrInvalidID.Error()
	}
	if err := (Labels{Manufacturer: d.Manufacturer, Model: d.Model, Serial: d.Serial}).Check(); err != nil {
		return strings.TrimPrefix(err.Error(), ErrInvalidLabel.Error()+": ")
	}
	return ""
}

// clip shortens what is echoed of a caller's text.
func clip(s string) string {
	s = s[:min(len(s), 32)]
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

// CheckBulk reports, in a *BulkError, the rows BulkAdd would refuse now.
func (r *Registry) CheckBulk(rows []NewDevice, patientExists func(string) bool) error {
	bad := checkRows(rows, patientExists)
	r.mu.RLock()
	r.clashes(rows, bad)
	r.mu.RUnlock()
	return bad.err()
}

// BulkAdd registers every device, bound to its patient from at where it
// names one, in one transaction, or none: rows that clash with each other
// or with the registry (an id or a model's serial number taken, a patient
// patientExists does not know; nil skips that check) are reported in a
// *BulkError and nothing is changed. It returns each device's secret,
// which is not stored and cannot be shown again.
func (r *Registry) BulkAdd(ctx context.Context, rows []NewDevice, patientExists func(string) bool, at time.Time) ([]Enrolled, error) {
	at = at.UTC()
	bad := checkRows(rows, patientExists)
	r.mu.Lock()
	r.clashes(rows, bad)
	if err := bad.err(); err != nil {
		r.mu.Unlock()
		return nil, err
	}
	for _, d := range rows {
		r.pending[d.ID] = true
	}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		for _, d := range rows {
			delete(r.pending, d.ID)
		}
		r.mu.Unlock()
	}()

	made := hashAll(rows, at)
	if err := r.insertAll(ctx, made); err != nil {
		return nil, err
	}
	out := make([]Enrolled, len(made))
	r.mu.Lock()
	for i, m := range made {
		r.devices[m.dev.ID] = m.dev
		out[i] = Enrolled{ID: m.dev.ID, Secret: m.secret}
	}
	r.mu.Unlock()
	return out, nil
}

// checkRows checks each row on its own and its patient.
func checkRows(rows []NewDevice, patientExists func(string) bool) *rowErrors {
	bad := &rowErrors{}
	known := map[string]bool{}
	for _, d := range rows {
		if why := d.check(); why != "" {
			bad.add(d.Line, d.ID, "%s", why)
			continue
		}
		if d.Patient != "" && patientExists != nil {
			ok, seen := known[d.Patient]
			if !seen {
				ok = patientExists(d.Patient)
				known[d.Patient] = ok
			}
			if !ok {
				bad.add(d.Line, d.ID, "patient %s not found: add the patient first", d.Patient)
			}
		}
	}
	return bad
}

// clashes adds to bad the rows that clash with each other or with the
// registry: ids registered or repeated, a model's serial number taken.
// The caller holds r.mu.
func (r *Registry) clashes(rows []NewDevice, bad *rowErrors) {
	type serialKey struct{ model, serial string }
	serials := map[serialKey]string{}
	for _, d := range r.devices {
		if d.Serial != "" {
			serials[serialKey{d.Model, d.Serial}] = "device " + d.ID
		}
	}
	ids := make(map[string]int, len(rows))
	for _, d := range rows {
		if bad.lines[d.Line] {
			continue // one reason a row
		}
		switch {
		case r.devices[d.ID] != nil || r.pending[d.ID]:
			bad.add(d.Line, d.ID, "id %s is already registered", d.ID)
		case ids[d.ID] != 0:
			bad.add(d.Line, d.ID, "id %s repeats line %d", d.ID, ids[d.ID])
		default:
			ids[d.ID] = d.Line
		}
		if d.Serial == "" {
			continue
		}
		k := serialKey{d.Model, d.Serial}
		if other, ok := serials[k]; ok {
			bad.add(d.Line, d.ID, "serial %s of model %q is already %s", d.Serial, d.Model, other)
			continue
		}
		serials[k] = fmt.Sprintf("on line %d", d.Line)
	}
	slices.SortStableFunc(bad.Rows, func(a, b RowError) int { return a.Line - b.Line })
}

type madeDevice struct {
	dev    *Device
	secret string
}

// hashAll makes each device's secret and hashes on every core: the
// light argon2id of device secrets and Mosquitto's PBKDF2 cost tens of
// microseconds each, a 10,000-device list a second or two of CPU.
func hashAll(rows []NewDevice, at time.Time) []madeDevice {
	made := make([]madeDevice, len(rows))
	var wg sync.WaitGroup
	workers := max(1, runtime.GOMAXPROCS(0))
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(rows); i += workers {
				d := rows[i]
				secret := auth.NewSecret()
				dev := &Device{ID: d.ID, Kind: d.Kind, Serial: d.Serial, Model: d.Model, Manufacturer: d.Manufacturer, CreatedAt: at,
					secretHash: auth.HashSecret(secret), mqttHash: auth.MosquittoHash(secret)}
				if d.Patient != "" {
					dev.Bindings = []Binding{{Patient: d.Patient, From: at}}
				}
				made[i] = madeDevice{dev, secret}
			}
		}()
	}
	wg.Wait()
	return made
}

// insertAll writes the devices and their bindings in one transaction.
func (r *Registry) insertAll(ctx context.Context, made []madeDevice) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("bulk add: %w", err)
	}
	defer tx.Rollback()
	addDev, err := tx.PrepareContext(ctx, `INSERT INTO devices (id, kind, serial, model, manufacturer, secret_hash, mqtt_hash, created_at) VALUES (?,?,?,?,?,?,?,?)`)
	if err != nil {
		return fmt.Errorf("bulk add: %w", err)
	}
	defer addDev.Close()
	bind, err := tx.PrepareContext(ctx, `INSERT INTO device_bindings (device_id, patient, from_ns) VALUES (?,?,?)`)
	if err != nil {
		return fmt.Errorf("bulk add: %w", err)
	}
	defer bind.Close()
	for _, m := range made {
		d := m.dev
		if _, err := addDev.ExecContext(ctx, d.ID, d.Kind, d.Serial, d.Model, d.Manufacturer, d.secretHash, d.mqttHash, d.CreatedAt.UnixNano()); err != nil {
			return fmt.Errorf("bulk add %s: %w", d.ID, err)
		}
		for _, b := range d.Bindings {
			if _, err := bind.ExecContext(ctx, d.ID, b.Patient, b.From.UnixNano()); err != nil {
				return fmt.Errorf("bulk add %s: %w", d.ID, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("bulk add: %w", err)
	}
	return nil
}
