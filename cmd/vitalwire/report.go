package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/vitalwire/vitalwire/rpm"
)

// reportCmd prints a remote monitoring program's report over the API
// (admins: every patient; clinicians: their care teams').
func reportCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const use = "report rpm --month YYYY-MM [--care-team ID] [--csv | --json]"
	if len(args) == 0 || args[0] != "rpm" {
		return errors.New("usage: vitalwire " + use)
	}
	fs := newFlagSet("report rpm", use)
	mk := clientFlags(fs, "admin.token")
	month := fs.String("month", "", "the calendar month, YYYY-MM")
	team := fs.String("care-team", "", "only this care team's patients")
	asCSV := fs.Bool("csv", false, "print CSV: one row per patient and code")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args[1:], stdout, stderr); err != nil {
		return err
	}
	if _, err := rpm.ParseMonth(*month); err != nil {
		return errors.New("--month: YYYY-MM")
	}
	c, err := mk()
	if err != nil {
		return err
	}
	q := url.Values{"month": {*month}}
	if *team != "" {
		q.Set("care_team", *team)
	}
	if *asCSV || *asJSON {
		if *asCSV {
			q.Set("format", "csv")
		}
		status, body, err := c.send(ctx, "GET", "/api/v1/reports/rpm?"+q.Encode(), "application/json", "*/*", nil)
		if err != nil {
			return err
		}
		if status != 200 {
			return fmt.Errorf("status %d: %s", status, strings.TrimSpace(string(body)))
		}
		_, err = stdout.Write(body)
		return err
	}
	var rep rpm.Report
	if err := c.do(ctx, "GET", "/api/v1/reports/rpm?"+q.Encode(), nil, &rep); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PATIENT\tMRN\tCODE\tMET\tUNITS\tDAYS\tMINUTES\tREASON")
	for _, p := range rep.Patients {
		for _, l := range p.Lines {
			met := "no"
			if l.Met {
				met = "yes"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d:%02d\t%s\n", p.Patient, p.MRN, l.Code, met, l.Units, l.DaysWithData,
				l.Seconds/60, l.Seconds%60, l.Explanation)
		}
	}
	return tw.Flush()
}
