package devices_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/internal/testenv"
)

func TestParseCSV(t *testing.T) {
	for _, tc := range []struct {
		name, csv string
		rows      int
		err       string
	}{
		{"columns may come in any order, with a byte-order mark and spaces", "\ufeffkind, id ,model\nwatch,w-1,X\n", 1, ""},
		{"a header without a kind column is refused on line 1", "id,patient\nw-1,p\n", 0, "header: no kind column"},
		{"an unknown column is refused on line 1", "id,kind,colour\nw-1,watch,red\n", 0, `unknown column "colour"`},
		{"an empty file is refused", "", 0, "header: empty"},
		{"more rows than allowed stop the reading", "id,kind\na,watch\nb,watch\nc,watch\nd,watch\n", 0, "bulk_max_rows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := devices.ParseCSV(strings.NewReader(tc.csv), 3)
			if tc.err != "" {
				var bad *devices.BulkError
				if errors.As(err, &bad) {
					require.Equal(t, 1, bad.Rows[0].Line)
					require.Contains(t, bad.Rows[0].Reason, tc.err)
					return
				}
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Len(t, rows, tc.rows)
			require.Equal(t, devices.NewDevice{Line: 2, ID: "w-1", Kind: "watch", Model: "X"}, rows[0])
		})
	}
}

func TestBulkAdd(t *testing.T) {
	ctx := context.Background()
	path := testenv.Records(t)
	r := openRegistry(t, path)
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	rows := func(prefix string, n int) []devices.NewDevice {
		var out []devices.NewDevice
		for i := range n {
			out = append(out, devices.NewDevice{Line: i + 2, ID: fmt.Sprintf("%s-%d", prefix, i), Kind: "cuff", Patient: "p-1",
				Serial: fmt.Sprintf("%s%d", prefix, i), Model: "M"})
		}
		return out
	}

	t.Run("a patient the chart does not know refuses the whole enrolment", func(t *testing.T) {
		_, err := r.BulkAdd(ctx, rows("a", 3), func(p string) bool { return false }, at)
		var bad *devices.BulkError
		require.ErrorAs(t, err, &bad)
		require.Len(t, bad.Rows, 3)
		require.Empty(t, r.List())
	})

	t.Run("every device is written, bound from the enrolment, and survives a restart", func(t *testing.T) {
		made, err := r.BulkAdd(ctx, rows("b", 50), func(string) bool { return true }, at)
		require.NoError(t, err)
		require.Len(t, made, 50)
		require.True(t, r.Authenticate("b-7", made[7].Secret))
		again := openRegistry(t, path)
		d, err := again.Get("b-7")
		require.NoError(t, err)
		require.Equal(t, "b7", d.Serial)
		p, why := again.Resolve("b-7", at.Add(time.Minute))
		require.Empty(t, why)
		require.Equal(t, "p-1", p)
	})

	t.Run("two enrolments of the same ids at once: one wins whole, the other changes nothing", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = r.BulkAdd(ctx, rows("c", 200), nil, at)
			}()
		}
		wg.Wait()
		require.True(t, (errs[0] == nil) != (errs[1] == nil), "%v", errs)
		_, total, _, err := r.Search("c-", "", 1)
		require.NoError(t, err)
		require.Equal(t, 200, total)
	})

	t.Run("the search pages by id and refuses what cannot be a search", func(t *testing.T) {
		page, total, next, err := r.Search("B", "", 20)
		require.NoError(t, err)
		require.Equal(t, 50, total)
		require.Len(t, page, 20)
		page2, _, _, err := r.Search("B", next, 20)
		require.NoError(t, err)
		require.Greater(t, page2[0].ID, page[19].ID)
		_, _, _, err = r.Search("x\x00", "", 1)
		require.ErrorIs(t, err, devices.ErrBadQuery)
		_, _, _, err = r.Search("", "../", 1)
		require.ErrorIs(t, err, devices.ErrBadQuery)
	})
}

func TestAManufacturerIsKept(t *testing.T) {
	ctx := context.Background()
	path := testenv.Records(t)
	r := openRegistry(t, path)

	t.Run("a device added with its labels reads back with them after a restart", func(t *testing.T) {
		_, err := r.AddLabelled(ctx, "cuff-1", "cuff", devices.Labels{Manufacturer: " Dräger Medical ", Model: "BP-7", Serial: "SN-1"})
		require.NoError(t, err)
		d, err := openRegistry(t, path).Get("cuff-1")
		require.NoError(t, err)
		require.Equal(t, "Dräger Medical", d.Manufacturer, "trimmed, and not limited to ASCII")
		require.Equal(t, "BP-7", d.Model)
		require.Equal(t, "SN-1", d.Serial)
	})
	t.Run("a device is found by its manufacturer", func(t *testing.T) {
		page, total, _, err := r.Search("MEDICAL", "", 10)
		require.NoError(t, err)
		require.Equal(t, 1, total)
		require.Equal(t, "cuff-1", page[0].ID)
	})
	for name, l := range map[string]devices.Labels{
		"a manufacturer past 64 characters":       {Manufacturer: strings.Repeat("m", 65)},
		"a manufacturer with a control character": {Manufacturer: "Acme\x1b[31m"},
		"a manufacturer that is not UTF-8":        {Manufacturer: "\xff\xfe"},
		"a serial past 64 characters":             {Serial: strings.Repeat("1", 65)},
	} {
		t.Run(name+" is refused and nothing is registered", func(t *testing.T) {
			_, err := r.AddLabelled(ctx, "bad-1", "cuff", l)
			require.ErrorIs(t, err, devices.ErrInvalidLabel)
			_, err = r.Get("bad-1")
			require.ErrorIs(t, err, devices.ErrNotFound)
		})
	}
	t.Run("a CSV enrolment reads a manufacturer column and keeps it", func(t *testing.T) {
		rows, err := devices.ParseCSV(strings.NewReader("id,kind,manufacturer\nox-1,oximeter,Nonin Medical\n"), 10)
		require.NoError(t, err)
		require.Equal(t, "Nonin Medical", rows[0].Manufacturer)
		_, err = r.BulkAdd(ctx, rows, func(string) bool { return true }, time.Now())
		require.NoError(t, err)
		d, err := openRegistry(t, path).Get("ox-1")
		require.NoError(t, err)
		require.Equal(t, "Nonin Medical", d.Manufacturer)
	})
	t.Run("a CSV row with a bad manufacturer is refused by line", func(t *testing.T) {
		rows, err := devices.ParseCSV(strings.NewReader("id,kind,manufacturer\nox-2,oximeter,"+strings.Repeat("m", 65)+"\n"), 10)
		require.NoError(t, err)
		_, err = r.BulkAdd(ctx, rows, func(string) bool { return true }, time.Now())
		var bad *devices.BulkError
		require.ErrorAs(t, err, &bad)
		require.Equal(t, 2, bad.Rows[0].Line)
		require.Contains(t, bad.Rows[0].Reason, "manufacturer")
	})
}
