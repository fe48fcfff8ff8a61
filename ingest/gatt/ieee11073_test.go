package gatt_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/ingest/gatt"
)

// The SFLOAT and FLOAT vectors are written from IEEE 11073-20601's
// definition: exponent in the high bits, two's complement, base 10; the
// special values are mantissas 2^(n-1)-1 (NaN), -2^(n-1) (NRes),
// 2^(n-1)-2 (+INF), -(2^(n-1)-2) (-INF) and -(2^(n-1)-1) (reserved).
func TestSFloat(t *testing.T) {
	for _, tc := range []struct {
		raw  uint16
		want float64
		sp   gatt.Special
	}{
		{0x0048, 72, gatt.None},    // 72 x 10^0
		{0xF4B5, 120.5, gatt.None}, // 1205 x 10^-1
		{0xFFFF, -0.1, gatt.None},  // -1 x 10^-1
		{0x1001, 10, gatt.None},    // 1 x 10^1
		{0x7001, 1e7, gatt.None},   // the largest exponent
		{0x8001, 1e-8, gatt.None},  // the smallest exponent
		{0x07FD, 2045, gatt.None},  // the largest mantissa
		{0x0803, -2045, gatt.None}, // the smallest mantissa
		{0xE3E8, 10, gatt.None},    // 1000 x 10^-2
		{0x0000, 0, gatt.None},     // zero
		{0x07FF, 0, gatt.NaN},      // NaN
		{0x0800, 0, gatt.NRes},     // NRes
		{0x07FE, 0, gatt.PosInf},   // +INF
		{0x0802, 0, gatt.NegInf},   // -INF
		{0x0801, 0, gatt.Reserved}, // reserved
		{0x17FF, 0, gatt.Reserved}, // NaN's mantissa with an exponent
		{0xF800, 0, gatt.Reserved}, // NRes's mantissa with an exponent
		{0x27FE, 0, gatt.Reserved}, // +INF's mantissa with an exponent
	} {
		t.Run(fmt.Sprintf("0x%04X", tc.raw), func(t *testing.T) {
			v, sp := gatt.SFloat(tc.raw).Value()
			require.Equal(t, tc.sp, sp)
			require.Equal(t, tc.want, v)
		})
	}
	t.Run("a unit prefix is applied to the exponent, exactly", func(t *testing.T) {
		v, sp := gatt.SFloat(0xB064).Scaled(5) // 100 x 10^-5 kg/L is 100 mg/dL
		require.Equal(t, gatt.None, sp)
		require.Equal(t, 100.0, v)
		v, _ = gatt.SFloat(0xC037).Scaled(3) // 55 x 10^-4 mol/L is 5.5 mmol/L
		require.Equal(t, 5.5, v)
	})
}

func TestFloat(t *testing.T) {
	for _, tc := range []struct {
		raw  uint32
		want float64
		sp   gatt.Special
	}{
		{0xFF00016F, 36.7, gatt.None}, // 367 x 10^-1
		{0xFE000E74, 37, gatt.None},   // 3700 x 10^-2
		{0x00FFFFFF, -1, gatt.None},   // -1 x 10^0
		{0x01000003, 30, gatt.None},   // 3 x 10^1
		{0x807FFFFD, 8388605e-128, gatt.None},
		{0x007FFFFF, 0, gatt.NaN},      // NaN
		{0x00800000, 0, gatt.NRes},     // NRes
		{0x007FFFFE, 0, gatt.PosInf},   // +INF
		{0x00800002, 0, gatt.NegInf},   // -INF
		{0x00800001, 0, gatt.Reserved}, // reserved
		{0xFF7FFFFF, 0, gatt.Reserved}, // NaN's mantissa with an exponent
	} {
		t.Run(fmt.Sprintf("0x%08X", tc.raw), func(t *testing.T) {
			v, sp := gatt.Float(tc.raw).Value()
			require.Equal(t, tc.sp, sp)
			require.InDelta(t, tc.want, v, 1e-12*max(1, tc.want))
		})
	}
}

func TestParseUUID(t *testing.T) {
	for _, s := range []string{"2A35", "2a35", "0x2A35", "0X2a35", "00002a35-0000-1000-8000-00805f9b34fb", "00002A35-0000-1000-8000-00805F9B34FB"} {
		u, ok := gatt.ParseUUID([]byte(s))
		require.True(t, ok, s)
		require.Equal(t, gatt.BloodPressureMeasurement, u, s)
	}
	for _, s := range []string{"", "2A3", "2A355", "2A3G", "0y2A35", "x2A35", "00012a35-0000-1000-8000-00805f9b34fb",
		"00002a35-0000-1000-8000-00805f9b34fc", "00002a35_0000_1000_8000_00805f9b34fb", "blood_pressure"} {
		_, ok := gatt.ParseUUID([]byte(s))
		require.False(t, ok, s)
	}
	require.Equal(t, "0x2A35", gatt.BloodPressureMeasurement.String())
}
