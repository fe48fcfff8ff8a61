package simulators

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Provision registers devices with a Vitalwire server over its HTTP API
// (admin token) and returns them with their secrets. Each patient gets one
// device of each kind, named by DeviceID.
func Provision(ctx context.Context, server, token string, patients []string, kinds []string) ([]Device, error) {
	var out []Device
	for _, p := range patients {
		for _, kind := range kinds {
			id := DeviceID(p, kind)
			body, _ := json.Marshal(map[string]string{"id": id, "kind": kind, "patient": p})
			req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(server, "/")+"/api/v1/devices", bytes.NewReader(body))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return nil, fmt.Errorf("provision %s: %w", id, err)
			}
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				return nil, fmt.Errorf("provision %s: %s: %s", id, resp.Status, strings.TrimSpace(string(b)))
			}
			var created struct{ ID, Secret string }
			if err := json.Unmarshal(b, &created); err != nil {
				return nil, fmt.Errorf("provision %s: %w", id, err)
			}
			out = append(out, Device{ID: id, Secret: created.Secret, Kind: kind, Patient: p})
		}
	}
	return out, nil
}
