package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/sqlitestore"
	"github.com/vitalwire/vitalwire/vitals/storetest"
)

func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) vitals.Store {
		s, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "vitals.db"))
		require.NoError(t, err)
		return s
	})
}
