package devices

import "errors"

// Config bounds what one request may ask of the registry: a bulk
// enrolment (one CSV) and a page of the device list.
type Config struct {
	// BulkMaxRows is the most devices one bulk enrolment may register.
	BulkMaxRows int `yaml:"bulk_max_rows"`
	// BulkMaxBytes bounds a bulk enrolment's CSV.
	BulkMaxBytes int64 `yaml:"bulk_max_bytes"`
	// PageSize is the device list's page when the caller names none;
	// MaxPageSize the largest a caller may ask for.
	PageSize    int `yaml:"page_size"`
	MaxPageSize int `yaml:"max_page_size"`
}

// DefaultConfig: 50,000 devices or 8 MiB of CSV in one enrolment (a
// shipping list of a large program; about 100 bytes a row), pages of 100
// devices, at most 1,000.
func DefaultConfig() Config {
	return Config{BulkMaxRows: 50_000, BulkMaxBytes: 8 << 20, PageSize: 100, MaxPageSize: 1000}
}

// Validate reports settings that cannot work, each naming its field.
func (c Config) Validate() error {
	var errs []error
	if c.BulkMaxRows < 1 || c.BulkMaxRows > 1_000_000 {
		errs = append(errs, errors.New("bulk_max_rows: 1-1000000"))
	}
	if c.BulkMaxBytes < 1<<10 || c.BulkMaxBytes > 256<<20 {
		errs = append(errs, errors.New("bulk_max_bytes: 1 KiB-256 MiB"))
	}
	if c.MaxPageSize < 1 || c.MaxPageSize > 10_000 {
		errs = append(errs, errors.New("max_page_size: 1-10000"))
	}
	if c.PageSize < 1 || c.PageSize > c.MaxPageSize {
		errs = append(errs, errors.New("page_size: 1 to max_page_size"))
	}
	return errors.Join(errs...)
}
