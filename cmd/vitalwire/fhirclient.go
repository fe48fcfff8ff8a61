package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/vitalwire/vitalwire/auth/smart"
)

const fhirClientUsage = "fhir-client add ID --name N (--jwks FILE | --jwks-url URL) --scopes 'system/Observation.rs ...' --care-teams T1,T2 | list | revoke ID"

// fhirClientCmd registers, lists and revokes the systems that read the
// FHIR API with SMART Backend Services (admin).
func fhirClientCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: vitalwire " + fhirClientUsage)
	}
	fs := newFlagSet("fhir-client "+args[0], fhirClientUsage)
	mk := clientFlags(fs, "admin.token")
	name := fs.String("name", "", "the system's name (e.g. the EHR's)")
	jwksFile := fs.String("jwks", "", "a file holding the client's public JSON Web Key Set (RS384 or ES384 keys)")
	jwksURL := fs.String("jwks-url", "", "where the client publishes its key set (https)")
	scopes := fs.String("scopes", "", "the scopes it may be granted, space- or comma-separated (system/Observation.rs, system/Patient.rs, ...)")
	teams := fs.String("care-teams", "", "the care teams whose patients it may read, comma-separated")
	pos, err := parse(fs, args[1:], stdout, stderr)
	if err != nil {
		return err
	}
	c, err := mk()
	if err != nil {
		return err
	}
	switch args[0] {
	case "add":
		if len(pos) != 1 {
			return errors.New("usage: vitalwire " + fhirClientUsage)
		}
		cl := smart.Client{ID: pos[0], Name: *name, JWKSURL: *jwksURL, Scopes: fields(*scopes), CareTeams: fields(*teams)}
		if *jwksFile != "" {
			b, err := os.ReadFile(*jwksFile)
			if err != nil {
				return fmt.Errorf("--jwks: %w", err)
			}
			if !json.Valid(b) {
				return fmt.Errorf("--jwks: %s is not JSON", *jwksFile)
			}
			cl.JWKS = b
		}
		if err := cl.Validate(); err != nil {
			return err
		}
		var out smart.Client
		if err := c.do(ctx, "POST", "/api/v1/fhir-clients", cl, &out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "FHIR client %s registered: scopes %s; care teams %s\n", out.ID,
			strings.Join(out.Scopes, " "), strings.Join(out.CareTeams, ", "))
		fmt.Fprintf(stdout, "its token endpoint is %s/oauth2/token\n", c.server)
		return nil
	case "list":
		var cs []smart.Client
		if err := c.do(ctx, "GET", "/api/v1/fhir-clients", nil, &cs); err != nil {
			return err
		}
		for _, cl := range cs {
			state := "active"
			if cl.Revoked {
				state = "revoked"
			}
			keys := "jwks"
			if cl.JWKSURL != "" {
				keys = cl.JWKSURL
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s\tscopes: %s\tcare teams: %s\tkeys: %s\n", cl.ID, state, cl.Name,
				strings.Join(cl.Scopes, " "), strings.Join(cl.CareTeams, ","), keys)
		}
		return nil
	case "revoke":
		if len(pos) != 1 {
			return errors.New("usage: vitalwire fhir-client revoke ID")
		}
		if err := c.do(ctx, "POST", "/api/v1/fhir-clients/"+url.PathEscape(pos[0])+"/revoke", nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "FHIR client %s revoked: its tokens no longer work\n", pos[0])
		return nil
	}
	return errors.New("usage: vitalwire " + fhirClientUsage)
}

// fields splits a list given with spaces or commas.
func fields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}
