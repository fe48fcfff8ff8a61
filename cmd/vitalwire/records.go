package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/httpapi"
)

// patientCmd manages patient records over the API (admin).
func patientCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: vitalwire patient add ID --mrn M --name N --birth-date YYYY-MM-DD [--scale 2] [--on-oxygen] | list")
	}
	fs := newFlagSet("patient "+args[0], "patient add ID --mrn M --name N --birth-date YYYY-MM-DD [--scale 2] [--on-oxygen] [--notes N] [--gender G] [--family F] [--given G ...] | list")
	mk := clientFlags(fs, "admin.token")
	mrn := fs.String("mrn", "", "medical record number")
	name := fs.String("name", "", "full name")
	birth := fs.String("birth-date", "", "YYYY-MM-DD")
	scale := fs.Int("scale", 1, "NEWS2 SpO2 scale (2: prescribed target 88-92 %)")
	oxygen := fs.Bool("on-oxygen", false, "on supplemental oxygen")
	notes := fs.String("notes", "", "notes, e.g. the SpO2 target")
	zone := fs.String("time-zone", "", "where the patient lives, an IANA name (default: the clinic's)")
	gender := fs.String("gender", "", "administrative gender: male, female, other or unknown (default: not recorded)")
	family := fs.String("family", "", "family name (surname), as FHIR gives it; --name stays the name as shown")
	var given []string
	fs.Func("given", "a given name, in order; repeat for each (--given Ada --given Augusta)", func(s string) error {
		given = append(given, s)
		return nil
	})
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
			return errors.New("usage: vitalwire patient add ID --mrn M --name N --birth-date YYYY-MM-DD")
		}
		var p chart.Patient
		err := c.do(ctx, "POST", "/api/v1/patients", chart.Patient{ID: pos[0], MRN: *mrn, Name: *name, BirthDate: *birth,
			SpO2Scale: *scale, OnOxygen: *oxygen, Notes: *notes, TimeZone: *zone, Gender: *gender, Family: *family, Given: given}, &p)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "patient %s added\n", p.ID)
		return nil
	case "list":
		var ps []chart.Patient
		if err := c.do(ctx, "GET", "/api/v1/patients", nil, &ps); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tMRN\tNAME\tBIRTH DATE\tGENDER\tSCALE\tOXYGEN")
		for _, p := range ps {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%v\n", p.ID, p.MRN, p.Name, p.BirthDate, orDash(p.Gender), p.SpO2Scale, p.OnOxygen)
		}
		return tw.Flush()
	}
	return fmt.Errorf("unknown patient command %q", args[0])
}

// teamCmd manages care teams over the API (admin).
func teamCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: vitalwire team add ID --name N | add-member TEAM (--clinician C | --patient P | --escalation C) | remove-member ... | list")
	}
	fs := newFlagSet("team "+args[0], "team add ID --name N | add-member TEAM (--clinician C | --patient P | --escalation C) | remove-member TEAM (...) | list")
	mk := clientFlags(fs, "admin.token")
	name := fs.String("name", "", "team name")
	clin := fs.String("clinician", "", "clinician id")
	pat := fs.String("patient", "", "patient id")
	esc := fs.String("escalation", "", "a clinician of the team paged when an alert is not acknowledged in time")
	pos, err := parse(fs, args[1:], stdout, stderr)
	if err != nil {
		return err
	}
	c, err := mk()
	if err != nil {
		return err
	}
	member := func() (httpapi.MemberRequest, error) {
		var given []httpapi.MemberRequest
		for kind, v := range map[string]string{"clinician": *clin, "patient": *pat, "escalation": *esc} {
			if v != "" {
				given = append(given, httpapi.MemberRequest{Kind: kind, Member: v})
			}
		}
		if len(pos) != 1 || len(given) != 1 {
			return httpapi.MemberRequest{}, errors.New("usage: vitalwire team " + args[0] + " TEAM (--clinician C | --patient P | --escalation C)")
		}
		return given[0], nil
	}
	switch args[0] {
	case "add":
		if len(pos) != 1 {
			return errors.New("usage: vitalwire team add ID --name N")
		}
		if err := c.do(ctx, "POST", "/api/v1/care-teams", httpapi.TeamRequest{ID: pos[0], Name: *name}, nil); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "care team %s added\n", pos[0])
		return nil
	case "add-member", "remove-member":
		m, err := member()
		if err != nil {
			return err
		}
		method := "POST"
		if args[0] == "remove-member" {
			method = "DELETE"
		}
		if err := c.do(ctx, method, "/api/v1/care-teams/"+url.PathEscape(pos[0])+"/members", m, nil); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "care team %s: %s %s %s\n", pos[0], args[0], m.Kind, m.Member)
		return nil
	case "list":
		var ts []chart.Team
		if err := c.do(ctx, "GET", "/api/v1/care-teams", nil, &ts); err != nil {
			return err
		}
		for _, t := range ts {
			fmt.Fprintf(stdout, "%s (%s)\n  clinicians: %v\n  escalation contacts: %v\n  patients: %v\n", t.ID, t.Name, t.Clinicians, t.Escalation, t.Patients)
		}
		return nil
	}
	return fmt.Errorf("unknown team command %q", args[0])
}

// parseInterleaved parses flags that may come before or after positional
// arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// signInLinkCmd asks the server for a one-time link to the browser UI.
func signInLinkCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("signin-link", "signin-link --sub ID --role ROLE [--ttl 15m]")
	sub := fs.String("sub", "", "the person's id (a clinician, patient or admin)")
	role := fs.String("role", "", "admin, clinician or patient")
	ttl := fs.Duration("ttl", 15*time.Minute, "how long the link may wait to be used (at most 24h)")
	mk := clientFlags(fs, "admin.token")
	pos, err := parse(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	c, err := mk()
	if err != nil {
		return err
	}
	var link httpapi.SignInLink
	req := httpapi.SignInLinkRequest{Subject: *sub, Role: auth.Role(*role), TTLSeconds: int(ttl.Seconds())}
	if err := c.do(ctx, "POST", "/api/v1/signin-links", req, &link); err != nil {
		return err
	}
	fmt.Fprintln(stdout, link.URL)
	fmt.Fprintf(stderr, "valid once, until %s\n", link.Expires.Format(time.RFC3339))
	return nil
}

// userCmd sets a person's password for the browser UI; the password is
// read from standard input (one line), never from the command line.
func userCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "set" {
		return errors.New("usage: vitalwire user set USERNAME --sub ID --role ROLE < password-file")
	}
	fs := newFlagSet("user set", "user set USERNAME --sub ID --role ROLE < password-file")
	sub := fs.String("sub", "", "the person's id")
	role := fs.String("role", "", "admin, clinician or patient")
	mk := clientFlags(fs, "admin.token")
	pos, err := parse(fs, args[1:], stdout, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("usage: vitalwire user set USERNAME --sub ID --role ROLE < password-file")
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	c, err := mk()
	if err != nil {
		return err
	}
	req := httpapi.UserRequest{Username: pos[0], Subject: *sub, Role: auth.Role(*role), Password: strings.TrimRight(line, "\r\n")}
	if err := c.do(ctx, "POST", "/api/v1/users", req, nil); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "password set for %s\n", pos[0])
	return nil
}
