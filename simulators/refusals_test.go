package simulators

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRefusalsCountByReasonWithinBounds(t *testing.T) {
	t.Run("each refused reading of a report counts under its reason, with the first detail", func(t *testing.T) {
		f := NewRefusals()
		f.add([]byte(`{"seq":1,"accepted":1,"rejects":[{"index":0,"reason":"future_time","detail":"first"},{"index":2,"reason":"future_time","detail":"second"}]}`))
		f.add([]byte(`{"accepted":0,"rejects":[{"index":-1,"reason":"malformed","detail":"shape"}]}`))
		require.EqualValues(t, 3, f.Total())
		require.Equal(t, map[string]int64{"future_time": 2, "malformed": 1}, f.ByReason())
		require.Equal(t, "first", f.Details()["future_time"])
	})
	t.Run("what is not a reason code, and reasons past the cap, count as other", func(t *testing.T) {
		f := NewRefusals()
		f.add([]byte(`{"rejects":[{"reason":"Bad Reason\n"}]}`))
		for i := 0; i < maxReasons+5; i++ {
			f.add([]byte(fmt.Sprintf(`{"rejects":[{"reason":"r%s"}]}`, strings.Repeat("x", i%30)+string(rune('a'+i%26)))))
		}
		require.LessOrEqual(t, len(f.ByReason()), maxReasons+1)
		require.Positive(t, f.ByReason()["other"])
		require.EqualValues(t, maxReasons+6, f.Total(), "every refused reading is counted")
	})
	t.Run("a long detail is cut and a report that is not JSON is ignored", func(t *testing.T) {
		f := NewRefusals()
		f.add([]byte(`{"rejects":[{"reason":"implausible","detail":"` + strings.Repeat("d", 5000) + `"}]}`))
		f.add([]byte(`not json`))
		require.Len(t, f.Details()["implausible"], maxRefusalDetail+3)
		require.EqualValues(t, 1, f.Total())
	})
}
