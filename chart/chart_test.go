package chart

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAPatientRecordIsRefusedNamingTheBadField(t *testing.T) {
	good := Patient{ID: "ward3-bed12", MRN: "MRN-1", Name: "Ada Lovelace", BirthDate: "1950-12-10", SpO2Scale: 1}
	require.NoError(t, good.Validate())
	require.NoError(t, (&Patient{ID: "p.1", MRN: "m", Name: "n", BirthDate: "2000-01-01", SpO2Scale: 2}).Validate())
	for _, tc := range []struct {
		edit  func(*Patient)
		field string
	}{
		{func(p *Patient) { p.ID = "bed_12" }, "id:"}, // "_" is not in a FHIR id
		{func(p *Patient) { p.ID = "-p1" }, "id:"},
		{func(p *Patient) { p.ID = strings.Repeat("a", 65) }, "id:"},
		{func(p *Patient) { p.MRN = " " }, "mrn:"},
		{func(p *Patient) { p.Name = "" }, "name:"},
		{func(p *Patient) { p.SpO2Scale = 3 }, "spo2_scale:"},
		{func(p *Patient) { p.BirthDate = "10/12/1950" }, "birth_date"},
	} {
		p := good
		tc.edit(&p)
		err := p.Validate()
		require.Error(t, err, "%+v", p)
		require.True(t, errors.Is(err, ErrInvalid))
		require.Contains(t, err.Error(), tc.field)
	}
}
