package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/httpapi"
)

// bootstrapAdminCmd creates the first admin of a new install without the
// dev mode: on the server's machine, with its signing key, it asks the
// running server (so that the change goes through the access policy and
// the audit trail, as "bootstrap") to create a user with a random initial
// password that must be replaced at first sign-in. It refuses when an
// admin who can sign in exists already.
func bootstrapAdminCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bootstrap-admin", "bootstrap-admin --username NAME [--sub ID] [--config FILE] [--server URL] [--cacert FILE]")
	username := fs.String("username", "", "the admin's sign-in name (3-64 of a-z 0-9 . _ -)")
	sub := fs.String("sub", "", "the admin's id (default: the username)")
	server := fs.String("server", "", "the running server's URL (default: from http.addr and tls in the config)")
	caFile := fs.String("cacert", os.Getenv("VITALWIRE_CACERT"), "CA certificate to verify an https server (e.g. from dev-cert)")
	cf := addConfigFlags(fs)
	cfg, err := cf.parseAndLoad(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if *username == "" {
		return errors.New("--username is required")
	}
	if !auth.ValidUsername(*username) {
		return fmt.Errorf("--username: %w", auth.ErrBadUsername)
	}
	if *sub == "" {
		*sub = *username
	}
	if !auth.ValidID(*sub) {
		return fmt.Errorf("--sub: %w", auth.ErrInvalidID)
	}
	base := *server
	if base == "" {
		base = localServerURL(cfg)
	}
	hc := http.DefaultClient
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return fmt.Errorf("--cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--cacert %s: no certificate", *caFile)
		}
		hc = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	}
	// The key file is the server's: whoever can read it is the server's
	// operator already (token create mints from it too). The token lives
	// two minutes and names the bootstrap in the audit trail.
	key, err := auth.LoadOrCreateKey(cfg.Auth.SigningKeyFile)
	if err != nil {
		return err
	}
	signer, err := auth.NewSigner(key)
	if err != nil {
		return err
	}
	tok, _ := signer.Mint("bootstrap", auth.RoleAdmin, 2*time.Minute)
	c := &client{server: base, token: tok, http: hc}

	var users []auth.User
	if err := c.do(ctx, "GET", "/api/v1/users", nil, &users); err != nil {
		return fmt.Errorf("%w (is the server running? bootstrap-admin asks it, at %s)", err, base)
	}
	for _, u := range users {
		if u.Role == auth.RoleAdmin && !u.Disabled {
			return fmt.Errorf("an admin exists already (%s): sign in as them and add people from the People page", u.Username)
		}
	}
	password := auth.NewSecret()
	req := httpapi.UserRequest{Username: *username, Subject: *sub, Role: auth.RoleAdmin, Password: password}
	if err := c.do(ctx, "POST", "/api/v1/users", req, nil); err != nil {
		return err
	}
	fmt.Fprintf(stdout, `admin %q created (id %s). Initial password, shown once:

  %s

Sign in at %s/#/signin with it; Vitalwire then asks for a password of
your own, and the initial one stops working.
`, *username, *sub, password, externalOr(cfg, base))
	return nil
}

// localServerURL is the server's URL on this machine from its
// configuration: its listener (a wildcard address as loopback), https when
// a certificate is configured.
func localServerURL(cfg app.Config) string {
	scheme := "http"
	if cfg.TLS.Enabled() {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(cfg.HTTP.Addr)
	if err != nil {
		return scheme + "://" + cfg.HTTP.Addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

func externalOr(cfg app.Config, base string) string {
	if cfg.HTTP.ExternalURL != "" {
		return cfg.HTTP.ExternalURL
	}
	return base
}
