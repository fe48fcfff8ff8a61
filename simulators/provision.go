package simulators

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ProvisionDevices registers the given devices (ids, kinds, patients) with
// up to parallel requests in flight, and returns them with their secrets in
// the same order.
func ProvisionDevices(ctx context.Context, server, token string, devs []Device, boundFrom time.Time, parallel int) ([]Device, error) {
	out := make([]Device, len(devs))
	errs := make(chan error, len(devs))
	sem := make(chan struct{}, max(1, parallel))
	var wg sync.WaitGroup
	for i, d := range devs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			got, err := provisionOne(ctx, server, token, d, boundFrom)
			if err != nil {
				errs <- err
				return
			}
			out[i] = got
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return out, nil
}

func provisionOne(ctx context.Context, server, token string, d Device, boundFrom time.Time) (Device, error) {
	req := map[string]any{"id": d.ID, "kind": d.Kind, "patient": d.Patient}
	if !boundFrom.IsZero() {
		req["bound_from"] = boundFrom
	}
	body, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(server, "/")+"/api/v1/devices", bytes.NewReader(body))
	if err != nil {
		return d, err
	}
	hr.Header.Set("Authorization", "Bearer "+token)
	hr.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		return d, fmt.Errorf("provision %s: %w", d.ID, err)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return d, fmt.Errorf("provision %s: %s: %s", d.ID, resp.Status, strings.TrimSpace(string(b)))
	}
	var created struct{ ID, Secret string }
	if err := json.Unmarshal(b, &created); err != nil {
		return d, fmt.Errorf("provision %s: %w", d.ID, err)
	}
	d.Secret = created.Secret
	return d, nil
}
