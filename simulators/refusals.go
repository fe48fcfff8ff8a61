package simulators

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwire/vitalwire/topic"
)

// Refusals counts the readings the server refused, by reason, as it
// reports them on each device's rejects topic: what a device maker needs
// to see, since a refused reading is still acknowledged.
type Refusals struct {
	total   atomic.Int64
	last    atomic.Int64 // wall time of the last report, Unix ns
	mu      sync.Mutex
	reasons map[string]int64
	details map[string]string // the first detail of each reason
}

// Bounds on what a rejects report may add: the server is trusted, but a
// broker carries what it is given.
const (
	maxRejectReport  = 128 << 10
	maxReasons       = 32
	maxReasonLen     = 32
	maxRefusalDetail = 300
)

// NewRefusals returns an empty count.
func NewRefusals() *Refusals {
	return &Refusals{reasons: map[string]int64{}, details: map[string]string{}}
}

// Subscribe asks for the device's rejects; it does not wait (it is called
// from paho's connect handler, so that a reconnect subscribes again).
func (f *Refusals) Subscribe(c mqtt.Client, device string) mqtt.Token {
	return c.Subscribe(topic.Rejects(device), 0, func(_ mqtt.Client, m mqtt.Message) { f.add(m.Payload()) })
}

func (f *Refusals) add(payload []byte) {
	if len(payload) > maxRejectReport {
		return
	}
	var rep struct {
		Rejects []struct{ Reason, Detail string }
	}
	if json.Unmarshal(payload, &rep) != nil {
		return
	}
	f.last.Store(time.Now().UnixNano())
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range rep.Rejects {
		reason := r.Reason
		if !word(reason) || (f.reasons[reason] == 0 && len(f.reasons) >= maxReasons) {
			reason = "other"
		}
		f.reasons[reason]++
		f.total.Add(1)
		if _, ok := f.details[reason]; !ok {
			d := r.Detail
			if len(d) > maxRefusalDetail {
				d = d[:maxRefusalDetail] + "..."
			}
			f.details[reason] = d
		}
	}
}

// word reports whether s is a reason code: a short snake_case word.
func word(s string) bool {
	if s == "" || len(s) > maxReasonLen {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}

// Total is how many readings were refused so far.
func (f *Refusals) Total() int64 { return f.total.Load() }

// ByReason returns the counts by reason.
func (f *Refusals) ByReason() map[string]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int64, len(f.reasons))
	for k, v := range f.reasons {
		out[k] = v
	}
	return out
}

// Details returns the first detail the server gave for each reason.
func (f *Refusals) Details() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]string, len(f.details))
	for k, v := range f.details {
		out[k] = v
	}
	return out
}

// Settle waits until no report has come for quiet, or at most max: the
// server reports a refusal around the time it acknowledges the message,
// so the last reports may trail the last acknowledgement.
func (f *Refusals) Settle(quiet, max time.Duration) {
	end := time.Now().Add(max)
	for time.Now().Before(end) {
		last := time.Unix(0, f.last.Load())
		if time.Since(last) >= quiet {
			return
		}
		time.Sleep(quiet / 5)
	}
}

// Summary writes the refusals for people: one line per reason, most
// frequent first, with the server's detail.
func Summary(w io.Writer, refused int64, byReason map[string]int64, details map[string]string, hints map[string]string) {
	if refused == 0 {
		fmt.Fprintln(w, "refused: none")
		return
	}
	fmt.Fprintf(w, "refused %d readings:\n", refused)
	reasons := make([]string, 0, len(byReason))
	for r := range byReason {
		reasons = append(reasons, r)
	}
	slices.SortFunc(reasons, func(a, b string) int {
		if byReason[a] != byReason[b] {
			return int(byReason[b] - byReason[a])
		}
		return strings.Compare(a, b)
	})
	for _, r := range reasons {
		fmt.Fprintf(w, "  %-14s %8d  %s\n", r, byReason[r], details[r])
		if h := hints[r]; h != "" {
			fmt.Fprintf(w, "  %-14s %8s  hint: %s\n", "", "", h)
		}
	}
}
