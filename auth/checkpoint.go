package auth

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/syslog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Checkpoint is a signed statement of the audit chain's head: at Time,
// event Seq was the newest and its hash was Head, and the keyed part of
// the chain began at KeyedFrom. Checkpoints live outside the records
// database, so that the newest one shows what the database held even
// after someone deleted or rewrote its newest events.
type Checkpoint struct {
	N         int64     `json:"n"` // 1, 2, ... in its file, across restarts
	Seq       int64     `json:"seq"`
	Head      string    `json:"head"`
	KeyedFrom int64     `json:"keyed_from"`
	Time      time.Time `json:"time"`
	Sig       string    `json:"sig"` // Ed25519 over the other fields, base64
}

func (c Checkpoint) signed() []byte {
	return prefixed([]string{"vitalwire audit checkpoint v1", strconv.FormatInt(c.N, 10), strconv.FormatInt(c.Seq, 10),
		c.Head, strconv.FormatInt(c.KeyedFrom, 10), strconv.FormatInt(c.Time.UnixNano(), 10)})
}

// Verifies reports whether the checkpoint was signed by pub's key.
func (c Checkpoint) Verifies(pub ed25519.PublicKey) bool {
	sig, err := base64.StdEncoding.DecodeString(c.Sig)
	return err == nil && len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, c.signed(), sig)
}

func prefixed(fields []string) []byte {
	var b bytes.Buffer
	for _, f := range fields {
		b.WriteString(strconv.Itoa(len(f)))
		b.WriteByte(':')
		b.WriteString(f)
	}
	return b.Bytes()
}

// CheckpointPublicKey is the public half of the checkpoint key in a key
// file (the hex Ed25519 seed), for checking checkpoints.
func CheckpointPublicKey(seed []byte) (ed25519.PublicKey, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("checkpoint key: want a %d-byte seed, have %d bytes", ed25519.SeedSize, len(seed))
	}
	return ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey), nil
}

// shutdownShipping bounds how long shutdown waits for the last
// checkpoint to reach the syslog and HTTP sinks.
const shutdownShipping = 5 * time.Second

// Checkpointer signs the audit chain's head and appends it to the
// checkpoint file (opened O_APPEND, fsynced per checkpoint) every
// CheckpointEvery events or CheckpointInterval, at start and at shutdown,
// then ships it to syslog and an HTTP sink when configured. It works in
// Run's goroutine: appending an event only notes the new head.
type Checkpointer struct {
	key      ed25519.PrivateKey
	path     string
	every    int64
	interval time.Duration
	warn     func(error)
	file     *os.File
	sinks    []checkpointSink
	last     Checkpoint // the file's newest at start; N 0: none

	mu        sync.Mutex
	seq       int64
	head      string
	keyedFrom int64
	written   int64 // seq of the newest checkpoint written
	n         int64 // its number
	kick      chan struct{}
	ship      chan []byte
}

// NewCheckpointer loads (or creates, 0600) the checkpoint key and opens
// the checkpoint file for appending. warn hears what goes wrong later
// (a failed write, an unreachable sink, a trail that does not match the
// newest checkpoint at start); the service logs it.
func NewCheckpointer(cfg AuditConfig, warn func(error)) (*Checkpointer, error) {
	if cfg.CheckpointFile == "" || cfg.CheckpointKeyFile == "" {
		return nil, errors.New("audit checkpoints: checkpoint_file and checkpoint_key_file are required")
	}
	seed, err := LoadOrCreateKey(cfg.CheckpointKeyFile)
	if err != nil {
		return nil, fmt.Errorf("audit checkpoint key: %w", err)
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("audit checkpoint key %q: want %d bytes, have %d", cfg.CheckpointKeyFile, ed25519.SeedSize, len(seed))
	}
	c := &Checkpointer{key: ed25519.NewKeyFromSeed(seed), path: cfg.CheckpointFile, every: int64(cfg.CheckpointEvery),
		interval: cfg.CheckpointInterval, warn: warn, written: -1, kick: make(chan struct{}, 1), ship: make(chan []byte, 16)}
	if c.every < 1 {
		c.every = 1
	}
	if c.interval <= 0 {
		c.interval = time.Minute
	}
	if cfg.CheckpointSyslog != "" {
		network, addr, err := syslogAddr(cfg.CheckpointSyslog)
		if err != nil {
			return nil, fmt.Errorf("audit checkpoint_syslog: %w", err)
		}
		c.sinks = append(c.sinks, &syslogSink{network: network, addr: addr})
	}
	if cfg.CheckpointURL != "" {
		u, err := url.Parse(cfg.CheckpointURL)
		if err != nil {
			return nil, fmt.Errorf("audit checkpoint_url: %w", err)
		}
		c.sinks = append(c.sinks, &httpSink{url: u, retries: cfg.CheckpointURLRetries, client: &http.Client{Timeout: 5 * time.Second}})
	}
	if c.last, err = lastCheckpoint(c.path); err != nil {
		c.warnf("audit checkpoint file %s: %v: numbering starts again", c.path, err)
	}
	c.n = c.last.N
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return nil, fmt.Errorf("audit checkpoint file: %w", err)
	}
	if c.file, err = os.OpenFile(c.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err != nil {
		return nil, fmt.Errorf("audit checkpoint file: %w", err)
	}
	return c, nil
}

func (c *Checkpointer) warnf(format string, args ...any) {
	if c.warn != nil {
		c.warn(fmt.Errorf(format, args...))
	}
}

// start takes the chain's head as the audit log opens, and says when the
// records database does not hold what the newest checkpoint names.
func (c *Checkpointer) start(ctx context.Context, db *sql.DB, seq int64, head string, keyedFrom int64) {
	c.mu.Lock()
	c.seq, c.head, c.keyedFrom = seq, head, keyedFrom
	c.mu.Unlock()
	last := c.last
	if last.N == 0 {
		return
	}
	const run = "; run vitalwire audit verify"
	if !last.Verifies(c.key.Public().(ed25519.PublicKey)) {
		c.warnf("the newest audit checkpoint (%d) does not verify with the checkpoint key: the file or the key was replaced%s", last.N, run)
		return
	}
	if last.Seq > seq {
		c.warnf("audit trail truncated: checkpoint %d names event %d, the records database ends at event %d%s", last.N, last.Seq, seq, run)
		return
	}
	var h string
	err := db.QueryRowContext(ctx, `SELECT hash FROM audit_events WHERE seq = ?`, last.Seq).Scan(&h)
	if last.Seq > 0 && (err != nil || h != last.Head) {
		c.warnf("audit trail rewritten: event %d is not the one checkpoint %d names%s", last.Seq, last.N, run)
	}
	if last.KeyedFrom != keyedFrom {
		c.warnf("audit chain anchor changed: checkpoint %d says the keyed chain begins at event %d, the records database says %d%s", last.N, last.KeyedFrom, keyedFrom, run)
	}
}

// advance notes a new head; it never blocks (it runs under the audit
// log's lock, on the request path).
func (c *Checkpointer) advance(seq int64, head string) {
	c.mu.Lock()
	c.seq, c.head = seq, head
	due := seq-c.written >= c.every
	c.mu.Unlock()
	if due {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
}

// Run writes a checkpoint at once, then whenever CheckpointEvery events
// or CheckpointInterval have passed with new events, and a last one when
// ctx ends (after the service has stopped taking requests); it then gives
// the sinks a few seconds to take what is queued. Call it once.
func (c *Checkpointer) Run(ctx context.Context) error {
	shipCtx, stopShipping := context.WithCancel(context.Background())
	defer stopShipping()
	shipped := make(chan struct{})
	go func() {
		defer close(shipped)
		c.shipAll(shipCtx)
	}()
	c.write(true)
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			c.write(false)
			close(c.ship)
			select {
			case <-shipped:
			case <-time.After(shutdownShipping):
				stopShipping()
				<-shipped
			}
			return nil
		case <-t.C:
			c.write(false)
		case <-c.kick:
			c.write(false)
		}
	}
}

// Close closes the checkpoint file (after Run has returned).
func (c *Checkpointer) Close() error { return c.file.Close() }

// write appends a checkpoint of the current head, unless nothing was
// appended since the last one (and force is off).
func (c *Checkpointer) write(force bool) {
	c.mu.Lock()
	cp := Checkpoint{N: c.n + 1, Seq: c.seq, Head: c.head, KeyedFrom: c.keyedFrom}
	same := c.seq == c.written
	c.mu.Unlock()
	if same && !force {
		return
	}
	cp.Time = time.Now().UTC().Round(0)
	cp.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(c.key, cp.signed()))
	line, err := json.Marshal(cp)
	if err != nil {
		c.warnf("audit checkpoint: %v", err)
		return
	}
	line = append(line, '\n')
	if _, err := c.file.Write(line); err != nil {
		c.warnf("write audit checkpoint: %v", err)
		return
	}
	if err := c.file.Sync(); err != nil {
		c.warnf("write audit checkpoint: %v", err)
		return
	}
	c.mu.Lock()
	c.n, c.written = cp.N, cp.Seq
	c.mu.Unlock()
	if len(c.sinks) == 0 {
		return
	}
	select {
	case c.ship <- line:
	default:
		c.warnf("audit checkpoint %d not shipped: the sinks are behind (it is in the checkpoint file)", cp.N)
	}
}

func (c *Checkpointer) shipAll(ctx context.Context) {
	for line := range c.ship {
		for _, s := range c.sinks {
			if err := s.send(ctx, line); err != nil {
				c.warnf("ship audit checkpoint: %v", err)
			}
		}
	}
}

// lastCheckpoint reads the newest checkpoint of the file: the last line
// of its tail.
func lastCheckpoint(path string) (Checkpoint, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Checkpoint{}, nil
	}
	if err != nil {
		return Checkpoint{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Checkpoint{}, err
	}
	const tail = 8 << 10
	off := max(st.Size()-tail, 0)
	b := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return Checkpoint{}, err
	}
	b = bytes.TrimRight(b, "\n")
	if len(b) == 0 {
		return Checkpoint{}, nil
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	var cp Checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return Checkpoint{}, fmt.Errorf("the last line is not a checkpoint: %w", err)
	}
	return cp, nil
}

type checkpointSink interface {
	send(ctx context.Context, line []byte) error
}

// syslogSink sends each checkpoint line to a syslog server (facility
// authpriv), dialling again after a failure.
type syslogSink struct {
	network, addr string
	w             *syslog.Writer
}

func (s *syslogSink) send(_ context.Context, line []byte) error {
	if s.w == nil {
		w, err := syslog.Dial(s.network, s.addr, syslog.LOG_AUTHPRIV|syslog.LOG_NOTICE, "vitalwire-audit")
		if err != nil {
			return fmt.Errorf("syslog %s: %w", s.addr, err)
		}
		s.w = w
	}
	if err := s.w.Notice(string(bytes.TrimRight(line, "\n"))); err != nil {
		s.w.Close()
		s.w = nil
		return fmt.Errorf("syslog %s: %w", s.addr, err)
	}
	return nil
}

// httpSink POSTs each checkpoint as JSON, retrying a bounded number of
// times with a doubling pause.
type httpSink struct {
	url     *url.URL
	retries int
	client  *http.Client
}

func (s *httpSink) send(ctx context.Context, line []byte) error {
	pause := 500 * time.Millisecond
	var err error
	for attempt := 0; attempt <= s.retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("checkpoint sink %s: %w", s.url.Host, ctx.Err())
			case <-time.After(pause):
			}
			pause *= 2
		}
		if err = s.post(ctx, line); err == nil {
			return nil
		}
	}
	// The host only: a URL may carry a token.
	return fmt.Errorf("checkpoint sink %s: %d attempts: %w", s.url.Host, s.retries+1, err)
}

func (s *httpSink) post(ctx context.Context, line []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url.String(), bytes.NewReader(line))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			return uerr.Err // without the URL
		}
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}
