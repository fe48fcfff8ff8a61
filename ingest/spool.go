package ingest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vitalwire/vitalwire/vitals"
)

// ErrSpoolFull is returned by Append when the spool is at its size bound.
// The caller keeps the messages unacknowledged, so the broker holds them.
var ErrSpoolFull = errors.New("spool full")

// segmentSize is the size at which the spool starts a new segment file.
const segmentSize = 4 << 20

// Spool is an append-only on-disk queue of reading batches for while the
// store is unreachable. Each record is [length u32][crc32 u32][batch] and
// each Append is fsynced before it returns, so an acknowledged message
// survives kill -9 and power loss. Segments are files named by a sequence
// number; a segment is deleted once every batch in it has been written to
// the store, so a crash during replay replays part of a segment again, which
// the store's idempotent writes absorb.
type Spool struct {
	dir      string
	maxBytes int64

	mu      sync.Mutex
	segs    []uint64 // sequence numbers, oldest first
	f       *os.File // the newest segment, open for append
	fSize   int64
	bytes   int64 // on disk, all segments
	batches int64
	buf     []byte
}

// OpenSpool opens (creating) the spool in dir; maxBytes bounds its size.
func OpenSpool(dir string, maxBytes int64) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open spool %q: %w", dir, err)
	}
	s := &Spool{dir: dir, maxBytes: maxBytes}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open spool %q: %w", dir, err)
	}
	for _, e := range entries {
		var seq uint64
		if _, err := fmt.Sscanf(e.Name(), "%016x.seg", &seq); err != nil || !strings.HasSuffix(e.Name(), ".seg") {
			continue
		}
		s.segs = append(s.segs, seq)
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("open spool %q: %w", dir, err)
		}
		s.bytes += info.Size()
		n, err := countRecords(s.path(seq))
		if err != nil {
			return nil, err
		}
		s.batches += n
	}
	sort.Slice(s.segs, func(i, j int) bool { return s.segs[i] < s.segs[j] })
	return s, nil
}

func (s *Spool) path(seq uint64) string { return filepath.Join(s.dir, fmt.Sprintf("%016x.seg", seq)) }

// Stats returns the spool's size on disk and the batches waiting in it.
func (s *Spool) Stats() (bytes, batches int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes, s.batches
}

// Empty reports whether no batch waits for replay.
func (s *Spool) Empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.batches == 0
}

// Append writes a batch and fsyncs it.
func (s *Spool) Append(batch []vitals.Reading) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = encodeBatch(s.buf[:0], batch)
	rec := int64(len(s.buf))
	if s.bytes+rec > s.maxBytes {
		return ErrSpoolFull
	}
	if s.f == nil || s.fSize+rec > segmentSize {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	if _, err := s.f.Write(s.buf); err != nil {
		// A torn record at the end is dropped by the reader's checks; start
		// a fresh segment so later appends are not behind it.
		s.f.Close()
		s.f = nil
		return fmt.Errorf("spool append: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		s.f.Close()
		s.f = nil
		return fmt.Errorf("spool fsync: %w", err)
	}
	s.fSize += rec
	s.bytes += rec
	s.batches++
	return nil
}

func (s *Spool) rotate() error {
	if s.f != nil {
		s.f.Close()
	}
	seq := uint64(time.Now().UnixNano())
	if n := len(s.segs); n > 0 && seq <= s.segs[n-1] {
		seq = s.segs[n-1] + 1
	}
	f, err := os.OpenFile(s.path(seq), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spool segment: %w", err)
	}
	if d, err := os.Open(s.dir); err == nil {
		d.Sync() // make the new file's name durable
		d.Close()
	}
	s.f, s.fSize = f, 0
	s.segs = append(s.segs, seq)
	return nil
}

// Replay writes every spooled batch, oldest first, through write, grouping
// batches into calls of up to maxReadings readings. It stops at the first
// error of write and returns it; what was not written stays spooled. It
// returns the number of readings written.
func (s *Spool) Replay(write func([]vitals.Reading) error, maxReadings int) (int, error) {
	total := 0
	for {
		s.mu.Lock()
		if len(s.segs) == 0 || s.batches == 0 {
			s.mu.Unlock()
			return total, nil
		}
		seq := s.segs[0]
		active := s.f != nil && len(s.segs) == 1
		if active {
			// Replaying the segment being appended to: close it so that new
			// appends go to a fresh one and this one can be deleted.
			s.f.Close()
			s.f = nil
		}
		s.mu.Unlock()

		n, records, size, err := s.replaySegment(s.path(seq), write, maxReadings)
		total += n
		if err != nil {
			return total, err
		}
		s.mu.Lock()
		if err := os.Remove(s.path(seq)); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.mu.Unlock()
			return total, fmt.Errorf("spool remove segment: %w", err)
		}
		s.segs = s.segs[1:]
		s.bytes -= size
		s.batches -= records
		if s.bytes < 0 || len(s.segs) == 0 {
			s.bytes = max(s.bytes, 0)
		}
		if len(s.segs) == 0 {
			s.batches = 0
		}
		s.mu.Unlock()
	}
}

func (s *Spool) replaySegment(path string, write func([]vitals.Reading) error, maxReadings int) (n int, records, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("spool open segment: %w", err)
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil {
		size = info.Size()
	}
	r := bufio.NewReaderSize(f, 1<<16)
	var pending []vitals.Reading
	var buf []byte
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		if err := write(pending); err != nil {
			return err
		}
		n += len(pending)
		pending = pending[:0]
		return nil
	}
	for {
		var rec []byte
		rec, buf, err = readRecord(r, buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// A torn tail from a crash mid-append: that append was never
			// acknowledged, so its messages will be redelivered.
			break
		}
		records++
		if pending, err = decodeBatch(rec, pending); err != nil {
			break
		}
		if len(pending) >= maxReadings {
			if err := flush(); err != nil {
				return n, 0, 0, err
			}
		}
	}
	if err := flush(); err != nil {
		return n, 0, 0, err
	}
	return n, records, size, nil
}

func countRecords(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("spool count: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var n int64
	var buf []byte
	for {
		var err error
		if _, buf, err = readRecord(r, buf); err != nil {
			return n, nil
		}
		n++
	}
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func readRecord(r *bufio.Reader, buf []byte) (rec, newBuf []byte, err error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, buf, errTorn
		}
		return nil, buf, err
	}
	n := binary.LittleEndian.Uint32(hdr[0:4])
	if n > 64<<20 {
		return nil, buf, errTorn
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, buf, errTorn
	}
	if crc32.Checksum(buf, crcTable) != binary.LittleEndian.Uint32(hdr[4:8]) {
		return nil, buf, errTorn
	}
	return buf, buf, nil
}

var errTorn = errors.New("spool: torn or corrupt record")

// encodeBatch appends a framed record of the batch to b.
func encodeBatch(b []byte, batch []vitals.Reading) []byte {
	start := len(b)
	b = append(b, make([]byte, 8)...)
	b = binary.AppendUvarint(b, uint64(len(batch)))
	for i := range batch {
		r := &batch[i]
		b = appendString(b, r.Device)
		b = appendString(b, r.Patient)
		b = appendString(b, string(r.Type))
		b = binary.LittleEndian.AppendUint64(b, uint64(r.Time.UnixNano()))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.Value))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.Diastolic))
		var flags byte
		if r.ReceivedTime {
			flags = 1
		}
		b = append(b, flags)
	}
	body := b[start+8:]
	binary.LittleEndian.PutUint32(b[start:], uint32(len(body)))
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(body, crcTable))
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func decodeBatch(b []byte, dst []vitals.Reading) ([]vitals.Reading, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return dst, errTorn
	}
	b = b[k:]
	str := func() (string, bool) {
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return "", false
		}
		s := string(b[k : k+int(l)])
		b = b[k+int(l):]
		return s, true
	}
	for i := uint64(0); i < n; i++ {
		var r vitals.Reading
		var typ string
		var ok1, ok2, ok3 bool
		r.Device, ok1 = str()
		r.Patient, ok2 = str()
		typ, ok3 = str()
		if !ok1 || !ok2 || !ok3 || len(b) < 25 {
			return dst, errTorn
		}
		r.Type = vitals.Type(typ)
		r.Time = time.Unix(0, int64(binary.LittleEndian.Uint64(b))).UTC()
		r.Value = math.Float64frombits(binary.LittleEndian.Uint64(b[8:]))
		r.Diastolic = math.Float64frombits(binary.LittleEndian.Uint64(b[16:]))
		r.ReceivedTime = b[24] == 1
		if spec, ok := vitals.Lookup(r.Type); ok {
			r.Unit = spec.Canonical
		}
		b = b[25:]
		dst = append(dst, r)
	}
	return dst, nil
}

// Close closes the open segment.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		err := s.f.Close()
		s.f = nil
		return err
	}
	return nil
}
