package auth

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// AuditConfig is the audit trail's section of auth's configuration: the
// keys that make tampering detectable and where the signed checkpoints of
// the chain's head go. The service fills empty paths with files in its
// data folder, which is enough to try it; production keeps the keys on
// another volume or in a secret store, and the checkpoint file on another
// volume made append-only (chattr +a), so that someone holding the
// records database holds neither.
type AuditConfig struct {
	// ChainKeyFile holds the hex HMAC-SHA256 key of the chain; created
	// (0600) on first start.
	ChainKeyFile string `yaml:"chain_key_file"`
	// CheckpointKeyFile holds the hex Ed25519 seed that signs checkpoints;
	// created (0600) on first start.
	CheckpointKeyFile string `yaml:"checkpoint_key_file"`
	// CheckpointFile is the append-only file of signed checkpoints, one
	// JSON line each.
	CheckpointFile string `yaml:"checkpoint_file"`
	// CheckpointEvery writes a checkpoint once this many events have been
	// appended since the last (default 100).
	CheckpointEvery int `yaml:"checkpoint_every"`
	// CheckpointInterval writes a checkpoint this often while events are
	// appended (default 1 min); one is also written at start and at
	// shutdown.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
	// CheckpointSyslog also sends each checkpoint to a syslog server,
	// e.g. "udp://logs.example:514" (udp, tcp or unix); "" sends none.
	CheckpointSyslog string `yaml:"checkpoint_syslog"`
	// CheckpointURL also POSTs each checkpoint as JSON to this URL; ""
	// posts none.
	CheckpointURL string `yaml:"checkpoint_url"`
	// CheckpointURLRetries is how many times a failed POST is retried
	// (default 3) before that checkpoint is left to the file alone.
	CheckpointURLRetries int `yaml:"checkpoint_url_retries"`
}

// DefaultAuditConfig is the audit trail's configuration of a new
// installation (paths are filled in by the service).
func DefaultAuditConfig() AuditConfig {
	return AuditConfig{CheckpointEvery: 100, CheckpointInterval: time.Minute, CheckpointURLRetries: 3}
}

// Validate checks the section, naming each bad field.
func (c AuditConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.CheckpointEvery < 1 || c.CheckpointEvery > 1_000_000 {
		bad("checkpoint_every: must be between 1 and 1000000")
	}
	if c.CheckpointInterval < 10*time.Millisecond || c.CheckpointInterval > time.Hour {
		bad("checkpoint_interval: must be between 10ms and 1h")
	}
	if c.CheckpointURLRetries < 0 || c.CheckpointURLRetries > 10 {
		bad("checkpoint_url_retries: must be between 0 and 10")
	}
	if c.CheckpointSyslog != "" {
		if _, _, err := syslogAddr(c.CheckpointSyslog); err != nil {
			bad("checkpoint_syslog: %v", err)
		}
	}
	if c.CheckpointURL != "" {
		u, err := url.Parse(c.CheckpointURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("checkpoint_url: must be an http or https URL")
		}
	}
	return errors.Join(errs...)
}

// syslogAddr splits "udp://host:port" into log/syslog's network and
// address.
func syslogAddr(s string) (network, addr string, err error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", "", err
	}
	switch u.Scheme {
	case "udp", "tcp":
		if u.Host == "" {
			return "", "", errors.New("must be udp://host:port, tcp://host:port or unix:///path")
		}
		return u.Scheme, u.Host, nil
	case "unix", "unixgram":
		if u.Path == "" {
			return "", "", errors.New("must be udp://host:port, tcp://host:port or unix:///path")
		}
		return u.Scheme, u.Path, nil
	}
	return "", "", errors.New("must be udp://host:port, tcp://host:port or unix:///path")
}

// inAuditSection names each "field: problem" of AuditConfig.Validate by
// its path in auth's section.
func inAuditSection(err error) []error {
	list := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	}
	out := make([]error, len(list))
	for i, e := range list {
		out[i] = errors.New("audit." + e.Error())
	}
	return out
}
