package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/sqlitestore"
	"github.com/vitalwire/vitalwire/vitals/storetest"
)

// BenchmarkWrite writes batches of 5,000 readings from 50 devices of 50
// patients, one transaction each. One op is one batch.
func BenchmarkWrite(b *testing.B) {
	s, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "vitals.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	base := time.Now().Add(-time.Hour)
	batch := make([]vitals.Reading, 5000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range batch {
			k := i*len(batch) + j
			dev := []string{"d00", "d01", "d02", "d03", "d04", "d05", "d06", "d07", "d08", "d09"}[k%10]
			batch[j] = storetest.Reading("p-"+dev, dev, vitals.HeartRate, base.Add(time.Duration(k)*time.Microsecond), float64(50+k%80))
		}
		if err := s.Write(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "readings/s")
}
