package alerts

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// maxPending bounds the transitions kept while the records database
// refuses writes: one per rule and patient whose condition changed during
// the outage, so far more than a ward produces in hours.
const maxPending = 50_000

// ErrPendingFull is returned when maxPending transitions wait already.
var ErrPendingFull = errors.New("alert transitions waiting for the records database: the limit is reached")

// pending are the alert transitions the records database refused, kept in
// order in a file (written whole, fsynced, renamed into place) until they
// are written: the engine has moved on (it will not fire that episode
// again), so a transition dropped here would be an alert never raised or
// never cleared. Like the webhook outbox, but beside the records rather
// than in them, since it is the records that refused.
type pending struct {
	path string
	mu   sync.Mutex
	list []Transition
}

func openPending(path string) (*pending, error) {
	p := &pending{path: path}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("alert transitions kept: %w", err)
	}
	if err := json.Unmarshal(b, &p.list); err != nil {
		return nil, fmt.Errorf("alert transitions kept in %s: %w", path, err)
	}
	return p, nil
}

func (p *pending) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.list)
}

// add keeps tr after the others.
func (p *pending) add(tr Transition) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.list) >= maxPending {
		return ErrPendingFull
	}
	p.list = append(p.list, tr)
	if err := p.save(); err != nil {
		p.list = p.list[:len(p.list)-1]
		return err
	}
	return nil
}

// drain writes the kept transitions in order with write, stopping at the
// first that fails; it returns the ones written and what they changed.
func (p *pending) drain(write func(Transition) (Alert, bool, error)) (written []Alert, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, tr := range p.list {
		a, changed, werr := write(tr)
		if werr != nil {
			err = werr
			break
		}
		n++
		if changed {
			written = append(written, a)
		}
	}
	if n == 0 {
		return written, err
	}
	p.list = p.list[n:]
	if serr := p.save(); serr != nil {
		return written, serr
	}
	return written, err
}

func (p *pending) save() error {
	if len(p.list) == 0 {
		if err := os.Remove(p.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	b, err := json.Marshal(p.list)
	if err != nil {
		return err
	}
	tmp := p.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, p.path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(p.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
