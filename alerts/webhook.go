package alerts

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Webhook is a receiver of alert changes.
type Webhook struct {
	URL string `yaml:"url"`
	// Secret signs each delivery: X-Vitalwire-Signature is
	// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)), with
	// the timestamp in X-Vitalwire-Timestamp (Unix seconds).
	Secret string `yaml:"secret"`
	// AllowPlaintext lets an http:// URL off loopback receive deliveries
	// (which name patients) in the clear: only for a link protected
	// another way.
	AllowPlaintext bool `yaml:"allow_plaintext"`
	// CAFile, when set, is the CA certificates (PEM) the receiver's
	// certificate may chain to besides the system's (a hospital's own
	// CA for an internal paging gateway).
	CAFile string `yaml:"ca_file"`
}

// ValidateWebhooks checks the receivers, naming each bad one by its
// place: an http or https URL with a host, in the clear only to loopback
// (or with allow_plaintext), each once, each with a secret of at least 16
// characters so that receivers can tell a delivery is ours.
func ValidateWebhooks(hooks []Webhook) error {
	var errs []error
	seen := map[string]bool{}
	for i, h := range hooks {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%d: "+format, append([]any{i}, args...)...))
		}
		u, err := url.Parse(h.URL)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
			bad("url: must be an http:// or https:// URL with a host")
			continue
		case u.User != nil:
			bad("url: must not carry credentials (use secret)")
		case u.Scheme == "http" && !h.AllowPlaintext && !loopbackHost(u.Hostname()):
			bad("url: deliveries name patients: use https off loopback (or allow_plaintext for a link protected another way)")
		}
		if seen[h.URL] {
			bad("url: listed twice")
		}
		seen[h.URL] = true
		if len(h.Secret) < 16 {
			bad("secret: at least 16 characters")
		}
		if h.CAFile != "" {
			if _, err := loadCAs(h.CAFile); err != nil {
				bad("ca_file: %v", err)
			}
		}
	}
	return errors.Join(errs...)
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// StandardSignature is the webhook-signature header of a delivery under
// the Standard Webhooks specification: "v1," and the base64 HMAC-SHA256 of
// "id.timestamp.body". A secret written as whsec_<base64> (the form the
// specification's libraries take) signs with the bytes it encodes; any
// other secret signs with its own bytes.
func StandardSignature(secret, id string, timestamp int64, body []byte) string {
	key := []byte(secret)
	if b64, ok := strings.CutPrefix(secret, "whsec_"); ok {
		if k, err := base64.StdEncoding.DecodeString(b64); err == nil {
			key = k
		}
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Sign computes the signature header value of a delivery.
func Sign(secret string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Webhooks delivers alert changes to receivers through a durable outbox,
// retrying with backoff until each is delivered. Every delivery of one
// change carries the same Idempotency-Key, so a receiver that saw it
// already can drop the repeat.
type Webhooks struct {
	db      *sql.DB
	hooks   []Webhook
	client  *http.Client
	clients map[string]*http.Client // by URL, for receivers with their own CA
	baseURL func() string
	log     zerolog.Logger
	now     func() time.Time
	kick    chan struct{}
	// holder names this process in the outbox rows it claims; claimFor
	// is how long a claim lasts before another node may take the row.
	holder   string
	claimFor time.Duration
}

// DefaultClaim is how long a node's claim on an outbox row lasts: long
// enough for a batch of deliveries at the client's timeout, short enough
// that a dead node's deliveries are taken over within minutes.
const DefaultClaim = 2 * time.Minute

// claimBatch is how many rows a node claims at once.
const claimBatch = 10

// NewWebhooks returns a deliverer; with no hooks it does nothing.
func NewWebhooks(db *sql.DB, hooks []Webhook, log zerolog.Logger) *Webhooks {
	// A redirect is not followed: a 307 would send the delivery, patient
	// data and all, to wherever the receiver (or whoever took over its
	// name) points; it counts as a failed delivery instead.
	client := &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	w := &Webhooks{db: db, hooks: hooks, client: client, clients: map[string]*http.Client{},
		log: log.With().Str("component", "webhooks").Logger(), now: time.Now, kick: make(chan struct{}, 1),
		holder: newHolder(), claimFor: DefaultClaim}
	for _, h := range hooks {
		if h.CAFile == "" {
			continue
		}
		pool, err := loadCAs(h.CAFile)
		if err != nil {
			// Validated at start; a file gone since fails each delivery
			// (retried) rather than trusting any certificate.
			w.log.Error().Err(err).Msg("webhook ca_file unreadable")
			continue
		}
		c := *client
		c.Transport = &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout: 10 * time.Second, MaxIdleConnsPerHost: 2, IdleConnTimeout: 90 * time.Second}
		w.clients[h.URL] = &c
	}
	return w
}

// newHolder is a name for this process's claims, unique across nodes.
func newHolder() string {
	b := make([]byte, 8)
	rand.Read(b)
	host, _ := os.Hostname()
	if len(host) > 64 {
		host = host[:64]
	}
	return host + "-" + hex.EncodeToString(b)
}

// SetClaim sets how long a claim on an outbox row lasts (0: DefaultClaim).
func (w *Webhooks) SetClaim(d time.Duration) {
	if d <= 0 {
		d = DefaultClaim
	}
	w.claimFor = d
}

// SetBaseURL sets the server's external URL, which the deliveries link
// to alerts under.
func (w *Webhooks) SetBaseURL(base func() string) { w.baseURL = base }

// alertURL links to a; "" without a base URL.
func (w *Webhooks) alertURL(a Alert) string {
	if w == nil || w.baseURL == nil {
		return ""
	}
	return AlertURL(w.baseURL(), a)
}

// loadCAs reads a PEM bundle of CA certificates on top of the system's.
func loadCAs(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", file)
	}
	return pool, nil
}

// WebhookPayload is the JSON body of a delivery. Type, Timestamp and Data
// are the shape the Standard Webhooks specification recommends; Event and
// Alert are the same change as earlier releases sent it.
type WebhookPayload struct {
	Type      string    `json:"type"`      // the event
	Timestamp time.Time `json:"timestamp"` // when the change was sent for delivery
	Data      PagerData `json:"data"`
	Event     string    `json:"event"` // alert.firing, alert.acknowledged, alert.resolved, alert.escalated
	Alert     Alert     `json:"alert"`
	// Contacts are who to page (alert.escalated): the escalation contacts
	// of the patient's care teams.
	Contacts []string `json:"contacts,omitempty"`
	// Problem is the notification the alert leads: every alert of the
	// patient's problem, the lead first (one delivery per problem, again
	// when a more severe alert joins it).
	Problem *Problem `json:"problem,omitempty"`
}

// Pending counts the deliveries not yet made (for the operator's alarm: a
// receiver down for long grows the outbox).
func (w *Webhooks) Pending(ctx context.Context) (int, error) {
	var n int
	err := w.db.QueryRowContext(ctx, `SELECT count(*) FROM webhook_outbox WHERE delivered_at IS NULL`).Scan(&n)
	return n, err
}

// Enqueue stores a delivery of an alert change for every receiver (its
// data without the rule's details; the service sends them).
func (w *Webhooks) Enqueue(ctx context.Context, event string, a Alert) error {
	return w.EnqueuePayload(ctx, WebhookPayload{Event: event, Alert: a, Data: pagerData(event, a, Rule{}, false, w.alertURL(a))})
}

// EnqueuePayload stores a delivery of p for every receiver.
func (w *Webhooks) EnqueuePayload(ctx context.Context, p WebhookPayload) error {
	event, a := p.Event, p.Alert
	if len(w.hooks) == 0 {
		return nil
	}
	p.Type = event
	if p.Timestamp.IsZero() {
		p.Timestamp = w.now().UTC().Truncate(time.Millisecond)
	}
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	key := fmt.Sprintf("alert-%d-%s", a.ID, event)
	for _, h := range w.hooks {
		if _, err := w.db.ExecContext(ctx, `INSERT INTO webhook_outbox (url, idempotency_key, payload, next_at) VALUES (?,?,?,?) ON CONFLICT DO NOTHING`,
			h.URL, key, body, w.now().UnixNano()); err != nil {
			return fmt.Errorf("enqueue webhook: %w", err)
		}
	}
	select {
	case w.kick <- struct{}{}:
	default:
	}
	return nil
}

// Run delivers due webhooks until ctx ends.
func (w *Webhooks) Run(ctx context.Context) error {
	if len(w.hooks) == 0 {
		<-ctx.Done()
		return nil
	}
	secrets := map[string]string{}
	for _, h := range w.hooks {
		secrets[h.URL] = h.Secret
	}
	for {
		next := w.deliverDue(ctx, secrets)
		select {
		case <-ctx.Done():
			return nil
		case <-w.kick:
		case <-time.After(next):
		}
	}
}

// deliverDue claims the due deliveries no other node holds, sends each
// once, and returns how long to wait before the next is due.
func (w *Webhooks) deliverDue(ctx context.Context, secrets map[string]string) time.Duration {
	now := w.now()
	due, until, err := w.claim(ctx, now)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn().Err(err).Msg("webhook outbox unreadable")
		}
		return time.Second
	}
	for _, it := range due {
		if ctx.Err() != nil || !w.now().Before(until) {
			// Stopping, or the claim ran out: the row is left to the
			// next claimant (this node or another).
			break
		}
		err := w.post(ctx, it.url, secrets[it.url], it.key, it.body)
		if ctx.Err() != nil {
			// Stopped mid-delivery: the claim stands until it expires,
			// as a dead node's would, and another node takes it then.
			break
		}
		if err == nil {
			w.db.ExecContext(ctx, `UPDATE webhook_outbox SET delivered_at = ?, attempts = attempts + 1, last_error = '', claimed_by = '', claimed_until = 0
				WHERE id = ? AND claimed_by = ?`, w.now().UnixNano(), it.id, w.holder)
			continue
		}
		backoff := min(time.Duration(1<<min(it.attempts, 6))*time.Second, time.Minute)
		w.db.ExecContext(ctx, `UPDATE webhook_outbox SET attempts = attempts + 1, next_at = ?, last_error = ?, claimed_by = '', claimed_until = 0
			WHERE id = ? AND claimed_by = ?`, w.now().Add(backoff).UnixNano(), err.Error(), it.id, w.holder)
		if it.attempts == 0 {
			w.log.Warn().Err(err).Str("key", it.key).Msg("webhook delivery failed; retrying with backoff")
		}
	}
	if len(due) == claimBatch {
		return 0 // more may be due
	}
	// Delivered rows are kept a day for inspection, then dropped.
	w.db.ExecContext(ctx, `DELETE FROM webhook_outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?`,
		now.Add(-24*time.Hour).UnixNano())
	// The next row due is due at its next_at, or when another node's
	// claim on it runs out.
	var nextAt sql.NullInt64
	w.db.QueryRowContext(ctx, `SELECT min(CASE WHEN claimed_until > next_at THEN claimed_until ELSE next_at END)
		FROM webhook_outbox WHERE delivered_at IS NULL`).Scan(&nextAt)
	// Another node may enqueue, and die before delivering: look again
	// within a claim's length even when nothing is due here.
	if !nextAt.Valid {
		return min(time.Minute, w.claimFor)
	}
	return min(max(10*time.Millisecond, time.Until(time.Unix(0, nextAt.Int64))), w.claimFor)
}

// outboxItem is one claimed delivery.
type outboxItem struct {
	id       int64
	url, key string
	body     []byte
	attempts int
}

// claim takes up to claimBatch due rows that no live claim holds, in one
// read-write transaction: SQLite begins it with the write lock and, on
// PostgreSQL, internal/sqldb takes the records write lock first, so two
// nodes' claims never interleave; the UPDATE's own condition would refuse
// a row claimed meanwhile anyway.
func (w *Webhooks) claim(ctx context.Context, now time.Time) ([]outboxItem, time.Time, error) {
	until := now.Add(w.claimFor)
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, until, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT id, url, idempotency_key, payload, attempts FROM webhook_outbox
		WHERE delivered_at IS NULL AND next_at <= ? AND claimed_until <= ? ORDER BY id LIMIT ?`, now.UnixNano(), now.UnixNano(), claimBatch)
	if err != nil {
		return nil, until, err
	}
	var due []outboxItem
	for rows.Next() {
		var it outboxItem
		if err := rows.Scan(&it.id, &it.url, &it.key, &it.body, &it.attempts); err != nil {
			rows.Close()
			return nil, until, err
		}
		due = append(due, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, until, err
	}
	var mine []outboxItem
	for _, it := range due {
		res, err := tx.ExecContext(ctx, `UPDATE webhook_outbox SET claimed_by = ?, claimed_until = ?
			WHERE id = ? AND delivered_at IS NULL AND claimed_until <= ?`, w.holder, until.UnixNano(), it.id, now.UnixNano())
		if err != nil {
			return nil, until, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			mine = append(mine, it)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, until, err
	}
	return mine, until, nil
}

func (w *Webhooks) post(ctx context.Context, url, secret, key string, body []byte) error {
	ts := w.now().Unix()
	client := w.client
	if c, ok := w.clients[url]; ok {
		client = c
	} else if w.hooksCA(url) {
		return errors.New("ca_file unreadable: not delivering with the system's CAs instead")
	}
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("X-Vitalwire-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Vitalwire-Signature", Sign(secret, ts, body))
	// The same delivery as the Standard Webhooks specification signs it;
	// its id is the idempotency key, the same on every retry.
	req.Header.Set("webhook-id", key)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", StandardSignature(secret, key, ts, body))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}

// hooksCA reports whether the receiver at url names its own CA.
func (w *Webhooks) hooksCA(url string) bool {
	for _, h := range w.hooks {
		if h.URL == url {
			return h.CAFile != ""
		}
	}
	return false
}
