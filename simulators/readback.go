package simulators

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vitalwire/vitalwire/vitals"
)

// StoredReadings counts, through the HTTP API, the readings of typ that
// the given devices have stored for their patients in [from, to): a run's
// own readings, whatever else the server receives. want is how many each
// device expects; a patient whose count in the window matches what its
// devices expect is answered by one aggregate query, any other is read
// page by page and counted by device. token must be allowed to read the
// patients (a clinician of their care team, or the patient).
func StoredReadings(ctx context.Context, server, token string, devs []Device, typ vitals.Type, from, to time.Time, want map[string]int64) (int64, error) {
	api := readAPI{base: strings.TrimRight(server, "/"), token: token, client: &http.Client{Timeout: 60 * time.Second}}
	byPatient := map[string][]string{}
	for _, d := range devs {
		byPatient[d.Patient] = append(byPatient[d.Patient], d.ID)
	}
	window := url.Values{"type": {string(typ)}, "from": {from.UTC().Format(time.RFC3339Nano)}, "to": {to.UTC().Format(time.RFC3339Nano)}}
	var total int64
	for patient, ids := range byPatient {
		var expect int64
		mine := map[string]bool{}
		for _, id := range ids {
			expect += want[id]
			mine[id] = true
		}
		var agg struct{ Windows []vitals.Window }
		if err := api.get(ctx, "/api/v1/patients/"+url.PathEscape(patient)+"/aggregates?"+window.Encode(), &agg); err != nil {
			return 0, err
		}
		var n int64
		for _, w := range agg.Windows {
			n += w.Count
		}
		if n == expect {
			total += n
			continue
		}
		// Another device of the patient, or a loss: count reading by reading.
		q := url.Values{"limit": {"10000"}}
		for k, v := range window {
			q[k] = v
		}
		next := "/api/v1/patients/" + url.PathEscape(patient) + "/readings?" + q.Encode()
		for next != "" {
			var page struct {
				Readings []struct{ Device string }
				Next     string
			}
			if err := api.get(ctx, next, &page); err != nil {
				return 0, err
			}
			for _, r := range page.Readings {
				if mine[r.Device] {
					total++
				}
			}
			next = page.Next
		}
	}
	return total, nil
}

type readAPI struct {
	base, token string
	client      *http.Client
}

func (a readAPI) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", a.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("read back readings: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("read back readings: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out); err != nil {
		return fmt.Errorf("read back readings: %w", err)
	}
	return nil
}
