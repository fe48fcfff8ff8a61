package influxstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

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
