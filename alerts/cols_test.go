package alerts

import (
	"strings"
	"testing"
)

// The alerts read through a join name the same columns, in the same order,
// as scanAlert reads (two branches each added a column to one of them).
func TestAlertColumnsOfAJoinAreTheAlertColumns(t *testing.T) {
	if got := strings.ReplaceAll(alertColsOfA, "a.", ""); got != alertCols {
		t.Fatalf("alertColsOfA without its table names:\n%s\nalertCols:\n%s", got, alertCols)
	}
}
