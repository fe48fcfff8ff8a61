// Package ingest owns the path of a reading from the broker to durable
// storage: the MQTT subscription (paho), payload decoding and validation,
// attribution to a patient, dedupe, batched writes with acknowledgement only
// after the readings are durable, the on-disk spool for store outages, and
// the hand-off of each durable batch to a Sink (rules engine, live hub).
//
// Delivery guarantee: a message is acknowledged to the broker only once each
// of its good readings is in the store or fsynced in the spool, and its
// refused readings have been counted and reported. Everything else stays
// unacknowledged and the broker redelivers it on the next session, so
// kill -9, a store outage or a broker restart loses nothing; the store's
// idempotent writes turn redelivery into "stored once".
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/vitals"
)

// Store is what the ingester needs of the time-series store.
type Store interface {
	Write(ctx context.Context, batch []vitals.Reading) error
}

// Resolver attributes readings to patients (the device registry).
type Resolver interface {
	// Resolve returns the patient the device was bound to at t, or why the
	// reading cannot be attributed.
	Resolve(device string, t time.Time) (patient string, reason vitals.Reason)
	// Seen records that the device sent something.
	Seen(device string, t time.Time)
}

// Sink receives each durable batch of readings seen for the first time, in
// the ingester's goroutines, before the batch's messages are acknowledged:
// it must not block for long.
type Sink interface {
	Readings(batch []vitals.Reading)
}

// Rejecter reports refused readings back to the device.
type Rejecter interface {
	Reject(device string, payload []byte)
}

// Delivery is one reading message taken from the broker.
type Delivery struct {
	Device   string
	Payload  []byte
	Received time.Time
	// Ack acknowledges the message to the broker. It is called once, after
	// the message's readings are durable; never for a message dropped at
	// shutdown, which the broker then redelivers.
	Ack func()

	// report, when set, receives the message's report (what the rejects
	// topic carries) before Ack: the path of Ingest.
	report func(rejectReport)
}

// Config tunes the ingester; zero values take the defaults.
type Config struct {
	// Workers decode and validate messages (default: GOMAXPROCS).
	Workers int `yaml:"workers"`
	// Writers is how many batch writes may be in flight at once (default 4).
	Writers int `yaml:"writers"`
	// QueueSize bounds messages received and not yet decoded (default 4096).
	QueueSize int `yaml:"queue_size"`
	// MaxBatch is the most readings in one store write (default 5000).
	MaxBatch int `yaml:"max_batch"`
	// MaxFuture is how far ahead of the server clock a reading's time may be
	// (default 5 min): device clocks drift.
	MaxFuture time.Duration `yaml:"max_future"`
	// MaxAge is how old a reading may be when it arrives (default 30 days):
	// devices upload late after being offline, but not forever.
	MaxAge time.Duration `yaml:"max_age"`
	// SpoolDir holds the spool; required.
	SpoolDir string `yaml:"spool_dir"`
	// SpoolMaxBytes bounds the spool (default 1 GiB). When it is full,
	// messages stay unacknowledged with the broker.
	SpoolMaxBytes int64 `yaml:"spool_max_bytes"`
	// DedupeKeys is how many recent reading keys are remembered to drop
	// redeliveries before they reach the store (default 500,000; memory is
	// about 40 bytes a key, up to twice this many keys).
	DedupeKeys int `yaml:"dedupe_keys"`
}

func (c *Config) defaults() {
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.Writers <= 0 {
		c.Writers = 4
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 4096
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 5000
	}
	if c.MaxFuture <= 0 {
		c.MaxFuture = 5 * time.Minute
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 30 * 24 * time.Hour
	}
	if c.SpoolMaxBytes <= 0 {
		c.SpoolMaxBytes = 1 << 30
	}
	if c.DedupeKeys <= 0 {
		c.DedupeKeys = 500_000
	}
}

// ErrStopped is returned by Submit once the ingester is shutting down.
var ErrStopped = errors.New("ingester stopped")

// Deps are the ingester's collaborators.
type Deps struct {
	Store    Store
	Resolver Resolver
	Sink     Sink     // may be nil
	Rejecter Rejecter // may be nil
	Metrics  *Metrics // may be nil
	Log      zerolog.Logger
	Now      func() time.Time // nil: time.Now
}

// Ingester validates, stores and hands on readings.
type Ingester struct {
	cfg   Config
	deps  Deps
	log   zerolog.Logger
	rlog  zerolog.Logger // sampled, for per-message refusals
	spool *Spool
	seen  *dedupe

	queue    chan Delivery
	jobs     chan job
	writes   chan batch
	replayCh chan struct{}
	stopping atomic.Bool
	stopped  chan struct{} // closed when Run returns
	inflight sync.WaitGroup
	dead     sync.Mutex
}

type job struct {
	readings []vitals.Reading
	ack      func()
}

type batch struct {
	readings []vitals.Reading
	acks     []func()
}

// New builds an ingester; Run starts it.
func New(cfg Config, deps Deps) (*Ingester, error) {
	cfg.defaults()
	if cfg.SpoolDir == "" {
		return nil, errors.New("ingest: spool_dir is required")
	}
	if deps.Store == nil || deps.Resolver == nil {
		return nil, errors.New("ingest: store and resolver are required")
	}
	if deps.Metrics == nil {
		deps.Metrics = NewMetrics(nil)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	sp, err := OpenSpool(cfg.SpoolDir, cfg.SpoolMaxBytes)
	if err != nil {
		return nil, err
	}
	deps.Metrics.spoolStatFunc = sp.Stats
	log := deps.Log.With().Str("component", "ingest").Logger()
	return &Ingester{
		cfg: cfg, deps: deps, log: log,
		rlog:     log.Sample(&zerolog.BurstSampler{Burst: 20, Period: time.Second}),
		spool:    sp,
		seen:     newDedupe(cfg.DedupeKeys),
		queue:    make(chan Delivery, cfg.QueueSize),
		jobs:     make(chan job, cfg.QueueSize),
		writes:   make(chan batch), // unbuffered: a send means a writer is free
		replayCh: make(chan struct{}, 1),
		stopped:  make(chan struct{}),
	}, nil
}

// SubmitWait submits a delivery and waits until it is acknowledged (its
// readings durable or refused). It is the path of an in-process broker,
// which holds the device's PUBACK until then.
func (in *Ingester) SubmitWait(ctx context.Context, device string, payload []byte) error {
	acked := make(chan struct{})
	// The broker may reuse the payload buffer once we return.
	p := append([]byte(nil), payload...)
	if err := in.Submit(ctx, Delivery{Device: device, Payload: p, Received: in.deps.Now(), Ack: func() { close(acked) }}); err != nil {
		return err
	}
	select {
	case <-acked:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-in.stopped:
		return ErrStopped
	}
}

// Spool returns the ingester's spool (for status and tests).
func (in *Ingester) Spool() *Spool { return in.spool }

// Submit queues a delivery, blocking while the queue is full: that is the
// backpressure that keeps the broker's in-flight window from being
// exceeded. It fails with ErrStopped once Drain has begun.
func (in *Ingester) Submit(ctx context.Context, d Delivery) error {
	if in.stopping.Load() {
		return ErrStopped
	}
	in.inflight.Add(1)
	in.deps.Metrics.InFlight.Inc()
	in.deps.Metrics.Messages.Inc()
	select {
	case in.queue <- d:
		return nil
	case <-ctx.Done():
		in.done()
		return ctx.Err()
	}
}

func (in *Ingester) done() {
	in.deps.Metrics.InFlight.Dec()
	in.inflight.Done()
}

// Drain stops new submissions and waits until every submitted message has
// been stored and acknowledged, or until ctx ends.
func (in *Ingester) Drain(ctx context.Context) error {
	in.stopping.Store(true)
	done := make(chan struct{})
	go func() { in.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("drain: %w", ctx.Err())
	}
}

// Run processes deliveries until ctx ends. Call Drain first for a clean
// stop; whatever is still unacknowledged when Run returns is redelivered by
// the broker later.
func (in *Ingester) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := 0; i < in.cfg.Workers; i++ {
		wg.Go(func() { in.decodeLoop(ctx) })
	}
	wg.Go(func() { in.batchLoop(ctx) })
	for i := 0; i < in.cfg.Writers; i++ {
		wg.Go(func() { in.writeLoop(ctx) })
	}
	wg.Go(func() { in.replayLoop(ctx) })
	in.kickReplay()
	wg.Wait()
	close(in.stopped)
	return in.spool.Close()
}

func (in *Ingester) decodeLoop(ctx context.Context) {
	var msg Message
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-in.queue:
			in.handle(ctx, d, &msg)
		}
	}
}

type rejectItem struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

type rejectReport struct {
	Seq      *int64       `json:"seq,omitempty"`
	Accepted int          `json:"accepted"`
	Rejects  []rejectItem `json:"rejects"`
}

// handle decodes and validates one message and passes its good readings on.
func (in *Ingester) handle(ctx context.Context, d Delivery, msg *Message) {
	now := d.Received
	if now.IsZero() {
		now = in.deps.Now()
	}
	in.deps.Resolver.Seen(d.Device, now)
	var report rejectReport
	var good []vitals.Reading
	if err := Decode(d.Payload, msg); err != nil {
		reason := vitals.ReasonMalformed
		if errors.Is(err, ErrOversized) {
			reason = vitals.ReasonOversized
		}
		report.Rejects = append(report.Rejects, rejectItem{Index: -1, Reason: string(reason), Detail: err.Error()})
	} else {
		if msg.HasSeq {
			seq := msg.Seq
			report.Seq = &seq
		}
		good = make([]vitals.Reading, 0, len(msg.Readings))
		var parts []vitals.Reading
		var refused []*vitals.RejectError
		for i := range msg.Readings {
			if msg.Readings[i].HasGATT {
				// One characteristic, several readings, each kept or refused.
				parts, refused = NormalizeGATT(&msg.Readings[i], d.Device, now, in.cfg.MaxFuture, in.cfg.MaxAge, parts[:0], refused[:0])
				for _, rej := range refused {
					report.Rejects = append(report.Rejects, rejectItem{Index: i, Reason: string(rej.Reason), Detail: rej.Detail})
				}
				for _, r := range parts {
					if rej := in.attribute(d.Device, &r); rej != nil {
						report.Rejects = append(report.Rejects, rejectItem{Index: i, Reason: string(rej.Reason), Detail: rej.Detail})
						continue
					}
					good = append(good, r)
				}
				continue
			}
			var r vitals.Reading
			rej := Normalize(&msg.Readings[i], d.Device, now, in.cfg.MaxFuture, in.cfg.MaxAge, &r)
			if rej == nil {
				rej = in.attribute(d.Device, &r)
			}
			if rej != nil {
				report.Rejects = append(report.Rejects, rejectItem{Index: i, Reason: string(rej.Reason), Detail: rej.Detail})
				continue
			}
			good = append(good, r)
		}
	}
	report.Accepted = len(good)
	if len(report.Rejects) > 0 {
		in.refuse(d.Device, &report)
	}
	if d.report != nil {
		d.report(report)
	}
	if len(good) == 0 {
		// Refused messages never hold an in-flight slot.
		d.Ack()
		in.done()
		return
	}
	select {
	case in.jobs <- job{readings: good, ack: d.Ack}:
	case <-ctx.Done():
		in.done()
	}
}

// attribute sets the patient the device was bound to at the reading's time.
func (in *Ingester) attribute(device string, r *vitals.Reading) *vitals.RejectError {
	var reason vitals.Reason
	if r.Patient, reason = in.deps.Resolver.Resolve(device, r.Time); reason != "" {
		return &vitals.RejectError{Reason: reason, Detail: ResolveDetail(reason)}
	}
	return nil
}

func (in *Ingester) refuse(device string, report *rejectReport) {
	for _, r := range report.Rejects {
		in.deps.Metrics.Refused.WithLabelValues(r.Reason).Inc()
	}
	// Ids and reasons only: never a value, never a patient.
	in.rlog.Warn().Str("device", device).Int("refused", len(report.Rejects)).Int("accepted", report.Accepted).
		Str("first_reason", report.Rejects[0].Reason).Msg("readings refused")
	if in.deps.Rejecter != nil {
		body, _ := json.Marshal(report)
		in.deps.Rejecter.Reject(device, body)
	}
}

// batchLoop groups jobs into batches for the writers: group commit. A
// batch goes to a writer as soon as one is free, so at low load a message
// is written at once, and under load the messages that arrive while every
// writer is busy make up the next, larger batch (up to MaxBatch readings).
func (in *Ingester) batchLoop(ctx context.Context) {
	var cur batch
	// The last batch's size: under load batches come alike, so the next
	// one is made that large at once instead of growing (and copying its
	// readings) from a message's worth.
	last := 0
	abandon := func() {
		for range cur.acks {
			in.done()
		}
	}
	for {
		var writes chan batch // nil, so never chosen, while there is no batch
		if len(cur.acks) > 0 {
			writes = in.writes
		}
		jobs := in.jobs
		if len(cur.readings) >= in.cfg.MaxBatch {
			jobs = nil // full: wait for a writer
		}
		select {
		case <-ctx.Done():
			abandon()
			return
		case j := <-jobs:
			if len(cur.acks) == 0 {
				cur.readings = make([]vitals.Reading, 0, min(in.cfg.MaxBatch, max(4*len(j.readings), last)))
			}
			cur.readings = append(cur.readings, j.readings...)
			cur.acks = append(cur.acks, j.ack)
		case writes <- cur:
			last = len(cur.readings)
			cur = batch{}
		}
	}
}

func (in *Ingester) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-in.writes:
			in.persist(ctx, b)
		}
	}
}

// persist makes a batch durable (store, else spool), then acknowledges its
// messages and hands the first-seen readings to the sink.
func (in *Ingester) persist(ctx context.Context, b batch) {
	defer func() {
		for range b.acks {
			in.done()
		}
	}()
	keys := in.seen.keys(b.readings, nil)
	flags := in.seen.seen(keys, nil)
	fresh, freshKeys := b.readings, keys
	if slices.Contains(flags, true) {
		// Drop what is already stored; the common case copies nothing.
		fresh, freshKeys = nil, nil
		for i, dup := range flags {
			if !dup {
				fresh = append(fresh, b.readings[i])
				freshKeys = append(freshKeys, keys[i])
			}
		}
	}
	in.deps.Metrics.Duplicates.Add(float64(len(b.readings) - len(fresh)))
	if len(fresh) > 0 && !in.durable(ctx, fresh) {
		return // shutting down: not acknowledged, the broker redelivers
	}
	// Two writers may have raced with the same reading: only the first to
	// mark it hands it on.
	isNew := in.seen.mark(freshKeys, flags)
	firsts := fresh
	if slices.Contains(isNew, false) {
		firsts = nil
		for i, n := range isNew {
			if n {
				firsts = append(firsts, fresh[i])
			}
		}
	}
	in.deps.Metrics.Duplicates.Add(float64(len(fresh) - len(firsts)))
	in.deps.Metrics.Accepted.Add(float64(len(firsts)))
	now := in.deps.Now()
	for i := range firsts {
		if !firsts[i].ReceivedTime {
			in.deps.Metrics.Lag.Observe(now.Sub(firsts[i].Time).Seconds())
		}
	}
	// The sink (rules, live views) runs before the acknowledgements: when a
	// device or the broker learns its readings are stored, the alerts they
	// raise are too.
	if in.deps.Sink != nil && len(firsts) > 0 {
		in.deps.Sink.Readings(firsts)
	}
	for _, ack := range b.acks {
		ack()
	}
}

// durable writes to the store, or to the spool when the store fails or
// readings are already waiting there (so that they replay in order). It
// retries until one succeeds; it gives up only when ctx ends.
func (in *Ingester) durable(ctx context.Context, rs []vitals.Reading) bool {
	backoff := 50 * time.Millisecond
	for {
		if in.spool.Empty() {
			start := time.Now()
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			err := in.deps.Store.Write(wctx, rs)
			cancel()
			in.deps.Metrics.StoreWrite.Observe(time.Since(start).Seconds())
			if err == nil {
				return true
			}
			in.deps.Metrics.StoreErrors.Inc()
			in.rlog.Warn().Err(err).Int("readings", len(rs)).Msg("store write failed; spooling")
		}
		err := in.spool.Append(rs)
		if err == nil {
			in.deps.Metrics.Spooled.Add(float64(len(rs)))
			in.kickReplay()
			return true
		}
		in.rlog.Error().Err(err).Int("readings", len(rs)).Msg("cannot make batch durable; holding its messages")
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (in *Ingester) kickReplay() {
	select {
	case in.replayCh <- struct{}{}:
	default:
	}
}

// replayLoop writes spooled batches to the store whenever the spool is not
// empty, backing off while the store stays down.
func (in *Ingester) replayLoop(ctx context.Context) {
	backoff := 250 * time.Millisecond
	failing := false
	for {
		kick := in.replayCh
		if failing {
			kick = nil // while the store is down, new spool appends do not hurry the retry
		}
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-time.After(backoff):
		}
		if in.spool.Empty() {
			backoff = 250 * time.Millisecond
			continue
		}
		n, err := in.spool.Replay(func(rs []vitals.Reading) error {
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			err := in.deps.Store.Write(wctx, rs)
			if err != nil && !errors.Is(err, vitals.ErrUnavailable) && ctx.Err() == nil {
				// The store refuses this data itself: retrying cannot help,
				// and it must not block the readings behind it.
				return in.deadLetter(rs, err)
			}
			return err
		}, in.cfg.MaxBatch)
		in.deps.Metrics.Replayed.Add(float64(n))
		if n > 0 {
			in.log.Info().Int("readings", n).Msg("replayed spooled readings into the store")
		}
		if err != nil {
			if !failing {
				in.log.Warn().Err(err).Msg("spool replay paused: store unavailable")
			}
			failing = true
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		failing = false
		backoff = 250 * time.Millisecond
	}
}

// deadLetter keeps readings the store refused in a file beside the spool,
// for an operator to inspect; it never discards them.
func (in *Ingester) deadLetter(rs []vitals.Reading, cause error) error {
	in.dead.Lock()
	defer in.dead.Unlock()
	path := filepath.Join(in.cfg.SpoolDir, "dead-letter.bin")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("dead letter: %w", err)
	}
	defer f.Close()
	if _, err := f.Write(encodeBatch(nil, rs)); err != nil {
		return fmt.Errorf("dead letter: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("dead letter: %w", err)
	}
	in.deps.Metrics.DeadLettered.Add(float64(len(rs)))
	in.log.Error().Err(cause).Int("readings", len(rs)).Str("file", path).Msg("store refused spooled readings; kept in dead-letter file")
	return nil
}

// dedupe remembers the keys of recently stored readings, in two
// generations, so it holds between n and 2n keys. A key is 128 bits: a
// seeded hash of (device, type) and the exact time, so two readings share a
// key only if their device and type hash alike (1 in 2^64) and their times
// agree to the nanosecond. Entries hold no pointers, which keeps them out
// of the garbage collector's way.
//
// Most readings are newer than any their device sent of their type: newest
// keeps, per such stream, the latest time marked, and a key past it is new
// without a look in the generations (each a random access into a map of
// up to n keys, most of the time a cache miss). Every key of a stream in
// the generations is at or before its newest entry; a stream gets an entry
// only with a time past every key marked before the last time newest was
// emptied (floor), so that holds across emptying too.
type dedupe struct {
	mu        sync.Mutex
	n         int
	seed      maphash.Seed
	cur, prev map[dedupeKey]struct{}
	newest    map[uint64]int64
	floor     int64 // keys at or before it may be in the generations without a stream entry
	latest    int64 // the latest time of any key marked
}

type dedupeKey [2]uint64

func newDedupe(n int) *dedupe {
	return &dedupe{n: n, seed: maphash.MakeSeed(), cur: make(map[dedupeKey]struct{}, n),
		newest: map[uint64]int64{}, floor: math.MinInt64, latest: math.MinInt64}
}

func (d *dedupe) key(r *vitals.Reading) dedupeKey {
	var h maphash.Hash
	h.SetSeed(d.seed)
	h.WriteString(r.Device)
	h.WriteByte(0)
	h.WriteString(string(r.Type))
	return dedupeKey{h.Sum64(), uint64(r.Time.UnixNano())}
}

func (d *dedupe) keys(rs []vitals.Reading, dst []dedupeKey) []dedupeKey {
	dst = dst[:0]
	for i := range rs {
		dst = append(dst, d.key(&rs[i]))
	}
	return dst
}

// seen reports, for each key, whether it is already stored.
func (d *dedupe) seen(keys []dedupeKey, out []bool) []bool {
	out = out[:0]
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, k := range keys {
		if d.past(k) {
			out = append(out, false)
			continue
		}
		_, ok := d.cur[k]
		if !ok {
			_, ok = d.prev[k]
		}
		out = append(out, ok)
	}
	return out
}

// past reports whether k is later than every key of its stream marked.
func (d *dedupe) past(k dedupeKey) bool {
	t, ok := d.newest[k[0]]
	return ok && int64(k[1]) > t
}

// mark records keys as stored and reports, for each, whether it was new.
func (d *dedupe) mark(keys []dedupeKey, out []bool) []bool {
	out = out[:0]
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, k := range keys {
		if !d.past(k) {
			_, dup := d.cur[k]
			if !dup {
				_, dup = d.prev[k]
			}
			if dup {
				out = append(out, false)
				continue
			}
		}
		if len(d.cur) >= d.n {
			// The older generation's map is emptied and reused: a new
			// one of n keys a generation was megabytes for the collector.
			old := d.prev
			if old == nil {
				old = make(map[dedupeKey]struct{}, d.n)
			}
			clear(old)
			d.prev, d.cur = d.cur, old
		}
		d.cur[k] = struct{}{}
		t := int64(k[1])
		if last, ok := d.newest[k[0]]; ok {
			d.newest[k[0]] = max(last, t)
		} else if t > d.floor {
			if len(d.newest) >= d.n {
				// Bounded like the generations: start again past every key.
				clear(d.newest)
				d.floor = max(d.latest, t)
			} else {
				d.newest[k[0]] = t
			}
		}
		d.latest = max(d.latest, t)
		out = append(out, true)
	}
	return out
}

// Validate checks the settings an operator gives, naming each bad field.
func (c Config) Validate() error {
	var errs []error
	if c.SpoolMaxBytes < 0 {
		errs = append(errs, errors.New("spool_max_bytes: must not be negative"))
	}
	if c.MaxBatch < 0 || c.MaxBatch > 100_000 {
		errs = append(errs, errors.New("max_batch: must be 0-100000"))
	}
	if c.Workers < 0 || c.Writers < 0 || c.QueueSize < 0 || c.DedupeKeys < 0 {
		errs = append(errs, errors.New("workers, writers, queue_size, dedupe_keys: must not be negative"))
	}
	if c.MaxFuture < 0 || c.MaxAge < 0 {
		errs = append(errs, errors.New("max_future, max_age: must not be negative"))
	}
	return errors.Join(errs...)
}
