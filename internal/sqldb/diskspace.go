package sqldb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sync/atomic"
	"syscall"
	"time"
)

// Free space. Every access to patient data appends an audit event to the
// records database first, so a full disk refuses every clinician every
// record, and the time-series store and the spool stop taking readings.
// DiskWatch measures the free space of the filesystems holding the data
// and says so, through its callbacks, before that happens.

// DiskConfig is the free-space alarm's section of the configuration.
type DiskConfig struct {
	// WarnFreeBytes raises the alarm when a data filesystem has less free
	// space than this (default 1 GiB).
	WarnFreeBytes int64 `yaml:"warn_free_bytes"`
	// CheckEvery is how often the free space is measured (default 30 s).
	CheckEvery time.Duration `yaml:"check_every"`
}

// DefaultDiskConfig is the alarm of a new installation.
func DefaultDiskConfig() DiskConfig {
	return DiskConfig{WarnFreeBytes: 1 << 30, CheckEvery: 30 * time.Second}
}

// Validate names each bad field.
func (c DiskConfig) Validate() error {
	var errs []error
	if c.WarnFreeBytes < 0 {
		errs = append(errs, errors.New("warn_free_bytes: must not be negative"))
	}
	if c.CheckEvery < 10*time.Millisecond || c.CheckEvery > time.Hour {
		errs = append(errs, errors.New("check_every: must be between 10ms and 1h"))
	}
	return errors.Join(errs...)
}

// FreeBytes is the space available to this process on the filesystem
// that holds dir, or will hold it (a folder not made yet is measured at
// its nearest existing parent).
func FreeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		err := syscall.Statfs(d, &st)
		if err == nil {
			return int64(st.Bavail) * int64(st.Bsize), nil
		}
		if !errors.Is(err, fs.ErrNotExist) || filepath.Dir(d) == d {
			return 0, fmt.Errorf("free space of %q: %w", dir, err)
		}
	}
}

// DiskWatch measures the free space of some folders (the least free of
// them counts) every CheckEvery.
type DiskWatch struct {
	cfg  DiskConfig
	dirs []string
	// Low is called when the free space falls below the threshold, and
	// again every hour while it stays there; OK when it is back above.
	Low func(free, threshold int64)
	OK  func(free int64)
	// Failed is called when the free space cannot be measured.
	Failed func(error)

	free atomic.Int64
	low  atomic.Bool
}

// NewDiskWatch watches dirs (duplicates are dropped).
func NewDiskWatch(cfg DiskConfig, dirs ...string) *DiskWatch {
	slices.Sort(dirs)
	w := &DiskWatch{cfg: cfg, dirs: slices.Compact(dirs)}
	w.free.Store(-1)
	return w
}

// Free is the least free space last measured, in bytes (-1 before the
// first measurement).
func (w *DiskWatch) Free() int64 { return w.free.Load() }

// IsLow reports whether the last measurement was below the threshold.
func (w *DiskWatch) IsLow() bool { return w.low.Load() }

// Check measures once and calls the callbacks.
func (w *DiskWatch) Check() {
	least := int64(-1)
	for _, d := range w.dirs {
		f, err := FreeBytes(d)
		if err != nil {
			if w.Failed != nil {
				w.Failed(err)
			}
			continue
		}
		if least < 0 || f < least {
			least = f
		}
	}
	if least < 0 {
		return
	}
	w.free.Store(least)
	was := w.low.Load()
	now := least < w.cfg.WarnFreeBytes
	w.low.Store(now)
	switch {
	case now && !was && w.Low != nil:
		w.Low(least, w.cfg.WarnFreeBytes)
	case !now && was && w.OK != nil:
		w.OK(least)
	}
}

// Run measures now and every CheckEvery until ctx ends.
func (w *DiskWatch) Run(ctx context.Context) error {
	w.Check()
	t := time.NewTicker(w.cfg.CheckEvery)
	defer t.Stop()
	lastWarn := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			wasLow := w.IsLow()
			w.Check()
			if wasLow && w.IsLow() && time.Since(lastWarn) >= time.Hour && w.Low != nil {
				w.Low(w.Free(), w.cfg.WarnFreeBytes) // still low: say it again, hourly
				lastWarn = time.Now()
			}
			if !wasLow && w.IsLow() {
				lastWarn = time.Now()
			}
		}
	}
}
