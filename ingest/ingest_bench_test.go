package ingest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/vitals"
)

// nullStore accepts every write at once: the benchmark measures the
// pipeline, not a store.
type nullStore struct{}

func (nullStore) Write(context.Context, []vitals.Reading) error { return nil }

type oneDevice struct{}

func (oneDevice) Resolve(string, time.Time) (string, vitals.Reason) { return "patient-1", "" }
func (oneDevice) Seen(string, time.Time)                            {}

// BenchmarkPipeline pushes messages of ten readings through decode,
// validation, batching, dedupe and acknowledgement with a store that costs
// nothing. One op is one message.
func BenchmarkPipeline(b *testing.B) {
	in, err := New(Config{SpoolDir: b.TempDir()}, Deps{Store: nullStore{}, Resolver: oneDevice{}, Log: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var run sync.WaitGroup
	run.Go(func() { in.Run(ctx) })
	base := time.Now().Add(-time.Hour).UnixNano()
	payloads := make([][]byte, b.N)
	for i := range payloads {
		var sb strings.Builder
		sb.WriteString(`{"seq":1,"readings":[`)
		for j := 0; j < 10; j++ {
			if j > 0 {
				sb.WriteByte(',')
			}
			ts := time.Unix(0, base+int64(i*10+j)*1000).UTC().Format(time.RFC3339Nano)
			fmt.Fprintf(&sb, `{"type":"heart_rate","value":%d,"unit":"/min","time":"%s"}`, 60+j, ts)
		}
		sb.WriteString(`]}`)
		payloads[i] = []byte(sb.String())
	}
	var acked sync.WaitGroup
	acked.Add(b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := in.Submit(ctx, Delivery{Device: "dev-1", Payload: payloads[i], Received: time.Now(), Ack: acked.Done}); err != nil {
			b.Fatal(err)
		}
	}
	acked.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N*10)/b.Elapsed().Seconds(), "readings/s")
	cancel()
	run.Wait()
}
