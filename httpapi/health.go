package httpapi

import (
	"context"
	"net/http"
)

// healthAPI answers liveness and readiness; neither carries patient data.
type healthAPI struct {
	ready func(ctx context.Context) (map[string]any, bool)
}

func (healthAPI) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is ready when the service says so (the store answers or the
// spool takes writes; with an external broker, the device subscription is
// in place).
func (h healthAPI) readyz(w http.ResponseWriter, r *http.Request) {
	status, ok := h.ready(r.Context())
	code := http.StatusOK
	if !ok {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, status)
}
