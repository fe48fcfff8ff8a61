package influxstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/influxstore"
	"github.com/vitalwire/vitalwire/vitals/storetest"
)

func TestStoreContractOnRealInfluxDB(t *testing.T) {
	in := testenv.StartInflux(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) vitals.Store {
		// A fresh database per subtest keeps them independent.
		db := fmt.Sprintf("contract%d", n.Add(1))
		in.CreateDatabase(t, db)
		s, err := influxstore.New(influxstore.Config{URL: in.URL, Org: in.Org, Bucket: db + "/autogen"})
		require.NoError(t, err)
		require.NoError(t, s.Ping(context.Background()))
		return s
	})

	t.Run("the Flux fallback counts the same days as InfluxQL", func(t *testing.T) {
		in.CreateDatabase(t, "fallback")
		s, err := influxstore.New(influxstore.Config{URL: in.URL, Org: in.Org, Bucket: "fallback/autogen"})
		require.NoError(t, err)
		defer s.Close()
		ny, err := time.LoadLocation("America/New_York")
		require.NoError(t, err)
		from := time.Date(2026, 10, 30, 0, 0, 0, 0, ny)
		var batch []vitals.Reading
		for h := 0; h < 96; h += 7 { // across New York's change of offset
			batch = append(batch, storetest.Reading("p1", "d1", vitals.HeartRate, from.Add(time.Duration(h)*time.Hour), 70))
			batch = append(batch, storetest.Reading("p2", "d2", vitals.SpO2, from.Add(time.Duration(h+3)*time.Hour), 97))
		}
		require.NoError(t, s.Write(context.Background(), batch))
		q := vitals.DaysQuery{Patients: []string{"p1", "p2"}, From: from, To: from.AddDate(0, 0, 4), Location: ny}
		viaQL, err := s.DaysWithData(context.Background(), q)
		require.NoError(t, err)
		viaFlux, err := influxstore.DaysFlux(s, context.Background(), q)
		require.NoError(t, err)
		require.Len(t, viaQL["p1"], 4)
		require.Equal(t, viaQL, viaFlux)
	})
}

func TestWriteToAStoppedServerSaysUnavailable(t *testing.T) {
	in := testenv.StartInflux(t)
	s, err := influxstore.New(influxstore.Config{URL: in.URL, Bucket: in.Bucket, Retries: 1})
	require.NoError(t, err)
	defer s.Close()
	in.Stop()
	err = s.Write(context.Background(), []vitals.Reading{storetest.Reading("p", "d", vitals.HeartRate, storetest.Now(), 60)})
	require.ErrorIs(t, err, vitals.ErrUnavailable)
}
