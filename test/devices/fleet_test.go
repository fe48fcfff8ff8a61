package devices

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// What a client of the device API reads (decoded here, as any client
// would, from the JSON it is sent).
type (
	enrolled struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	bulkAnswer struct {
		Created int        `json:"created"`
		Devices []enrolled `json:"devices"`
	}
	badRow struct {
		Line   int    `json:"line"`
		ID     string `json:"id"`
		Reason string `json:"reason"`
	}
	bulkRefusal struct {
		Error string   `json:"error"`
		Rows  []badRow `json:"rows"`
	}
	listedDevice struct {
		ID       string `json:"id"`
		Kind     string `json:"kind"`
		Serial   string `json:"serial"`
		Model    string `json:"model"`
		Bindings []struct {
			Patient string `json:"patient"`
		} `json:"bindings"`
		Status struct {
			Online   bool      `json:"online"`
			Battery  *float64  `json:"battery"`
			Firmware string    `json:"firmware"`
			LastSeen time.Time `json:"last_seen"`
		} `json:"status"`
	}
	devicePage struct {
		Devices []listedDevice `json:"devices"`
		Total   int            `json:"total"`
		Next    string         `json:"next"`
	}
)

// addPatients registers patients p-0000 to p-(n-1) through the API.
func addPatients(t *testing.T, s *harness.Service, n int) {
	t.Helper()
	var wg sync.WaitGroup
	ids := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ids {
				s.AddPatient(t, chart.Patient{ID: fmt.Sprintf("p-%04d", i), MRN: fmt.Sprintf("M%04d", i), Name: "Patient", BirthDate: "1960-01-01", SpO2Scale: 1})
			}
		}()
	}
	for i := range n {
		ids <- i
	}
	close(ids)
	wg.Wait()
}

func listDevices(t *testing.T, s *harness.Service, query string) devicePage {
	t.Helper()
	var p devicePage
	s.MustCall(t, http.StatusOK, "GET", "/api/v1/devices"+query, s.Admin(), nil, &p)
	return p
}

func TestDeviceKindsComeFromTheCatalog(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.Config(t))

	t.Run("a kind outside the catalog is refused, naming the kinds accepted", func(t *testing.T) {
		st, body := s.Raw(t, "POST", "/api/v1/devices", s.Admin(), "application/json", "", []byte(`{"id":"t-1","kind":"toaster"}`))
		require.Equal(t, http.StatusBadRequest, st, "%s", body)
		require.Contains(t, string(body), "toaster")
		require.Contains(t, string(body), "watch, ring, patch, cuff")
		require.Equal(t, http.StatusNotFound, s.Call(t, "GET", "/api/v1/devices/t-1", s.Admin(), nil, nil), "nothing was registered")
	})

	t.Run("every kind of the catalog is accepted", func(t *testing.T) {
		var kinds []struct {
			Name     string        `json:"name"`
			Label    string        `json:"label"`
			Measures []vitals.Type `json:"measures"`
		}
		s.MustCall(t, http.StatusOK, "GET", "/api/v1/device-kinds", "", nil, &kinds)
		require.GreaterOrEqual(t, len(kinds), 7)
		for _, k := range kinds {
			require.NotEmpty(t, k.Label)
			require.NotEmpty(t, k.Measures, k.Name)
			s.MustCall(t, http.StatusCreated, "POST", "/api/v1/devices", s.Admin(), map[string]string{"id": "k-" + k.Name, "kind": k.Name}, nil)
		}
	})
}

func TestBulkEnrolmentOfTenThousandDevicesFromOneCSV(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.Config(t))
	const patients, kits = 2500, 4
	addPatients(t, s, patients)

	var csv strings.Builder
	csv.WriteString("id,kind,patient,serial,model\n")
	kind := []string{"watch", "cuff", "scale", "thermometer"}
	model := []string{"Acme W2", "Omron X7", "Withings B1", "Braun T3"}
	for p := range patients {
		for k := range kits {
			fmt.Fprintf(&csv, "dev-%04d-%d,%s,p-%04d,SN%05d%d,%s\n", p, k, kind[k], p, p, k, model[k])
		}
	}
	start := time.Now()
	st, body := s.Raw(t, "POST", "/api/v1/devices/bulk", s.Admin(), "text/csv", "", []byte(csv.String()))
	took := time.Since(start)
	require.Equal(t, http.StatusCreated, st, "%.500s", body)
	t.Logf("bulk enrolment of %d devices (%d KiB of CSV) took %v", patients*kits, csv.Len()>>10, took.Round(time.Millisecond))

	var got bulkAnswer
	require.NoError(t, json.Unmarshal(body, &got))
	require.Equal(t, patients*kits, got.Created)
	require.Len(t, got.Devices, patients*kits)
	secrets := map[string]string{}
	for _, d := range got.Devices {
		require.Len(t, d.Secret, 32, d.ID)
		secrets[d.ID] = d.Secret
	}
	require.Len(t, secrets, patients*kits, "one secret per device")

	t.Run("every device is listed with its kind, serial, model and patient", func(t *testing.T) {
		p := listDevices(t, s, "?q=SN012343")
		require.Equal(t, 1, p.Total)
		d := p.Devices[0]
		require.Equal(t, "dev-1234-3", d.ID)
		require.Equal(t, "thermometer", d.Kind)
		require.Equal(t, "Braun T3", d.Model)
		require.Equal(t, "p-1234", d.Bindings[0].Patient)
		require.Equal(t, patients*kits, listDevices(t, s, "?limit=1").Total)
	})

	t.Run("an enrolled device publishes with the secret it was given, for its patient", func(t *testing.T) {
		at := time.Now() // bound from its enrolment on
		dev := harness.Connect(t, s.BrokerURL(), "dev-0042-0", secrets["dev-0042-0"])
		dev.Publish(harness.Reading(vitals.HeartRate, 71, "/min", at))
		s.WaitCount(t, "p-0042", vitals.HeartRate, at, at.Add(time.Second), 1, 10*time.Second)
	})

	t.Run("the secrets can be had as CSV, once, for a second shipment", func(t *testing.T) {
		st, body := s.Raw(t, "POST", "/api/v1/devices/bulk", s.Admin(), "text/csv", "text/csv",
			[]byte("id,kind\nextra-1,ring\nextra-2,oximeter\n"))
		require.Equal(t, http.StatusCreated, st, "%s", body)
		lines := strings.Split(strings.TrimSpace(string(body)), "\n")
		require.Equal(t, "id,secret", lines[0])
		require.Len(t, lines, 3)
		require.True(t, strings.HasPrefix(lines[1], "extra-1,"))
	})
}

func TestABulkCSVWithBadRowsChangesNothingAndNamesEachBadRow(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.Config(t))
	s.AddPatient(t, chart.Patient{ID: "p-1", MRN: "M1", Name: "Ada", BirthDate: "1950-01-01", SpO2Scale: 1})
	s.AddDevice(t, "old-1", "")
	before := listDevices(t, s, "").Total

	csv := strings.Join([]string{
		"id,kind,patient,serial,model",      // 1
		"good-1,watch,p-1,SN1,Acme W2",      // 2
		"good-2,toaster,,SN2,",              // 3 unknown kind
		"bad/id,cuff,,SN3,",                 // 4 invalid id
		"old-1,cuff,,SN4,",                  // 5 already registered
		"good-1,ring,,SN5,",                 // 6 repeats line 2
		"good-3,scale,p-nobody,SN6,",        // 7 no such patient
		"good-4,scale",                      // 8 too few fields
		"good-5,cuff,,SN1,Acme W2",          // 9 serial repeats line 2's
		"good-6,thermometer,,SN7,Braun\x01", // 10 control character
		"good-7,,,SN8,",                     // 11 no kind
	}, "\n") + "\n"
	st, body := s.Raw(t, "POST", "/api/v1/devices/bulk", s.Admin(), "text/csv", "", []byte(csv))
	require.Equal(t, http.StatusBadRequest, st, "%s", body)
	var r bulkRefusal
	require.NoError(t, json.Unmarshal(body, &r), "%s", body)
	require.Contains(t, r.Error, "nothing was changed")
	want := map[int]string{3: "toaster", 4: "id", 5: "already", 6: "line 2", 7: "p-nobody", 8: "fields", 9: "serial", 10: "model", 11: "kind"}
	lines := map[int]string{}
	for _, row := range r.Rows {
		lines[row.Line] = row.Reason
	}
	for line, word := range want {
		require.Contains(t, lines[line], word, "line %d's reason, in %+v", line, r.Rows)
	}
	require.Len(t, r.Rows, len(want), "the good rows are not named: %+v", r.Rows)

	require.Equal(t, before, listDevices(t, s, "").Total, "nothing was registered")
	require.Equal(t, http.StatusNotFound, s.Call(t, "GET", "/api/v1/devices/good-1", s.Admin(), nil, nil))

	t.Run("an upload past the row limit is refused before anything is read into the registry", func(t *testing.T) {
		cfg := harness.Config(t)
		cfg.Devices.BulkMaxRows = 3
		small := harness.Start(t, cfg)
		st, body := small.Raw(t, "POST", "/api/v1/devices/bulk", small.Admin(), "text/csv", "",
			[]byte("id,kind\na-1,watch\na-2,watch\na-3,watch\na-4,watch\n"))
		require.Equal(t, http.StatusRequestEntityTooLarge, st, "%s", body)
		require.Contains(t, string(body), "bulk_max_rows")
		require.Equal(t, 0, listDevices(t, small, "").Total)
	})

	t.Run("only an admin enrols", func(t *testing.T) {
		st, _ := s.Raw(t, "POST", "/api/v1/devices/bulk", s.Clinician("doc"), "text/csv", "", []byte("id,kind\nx-1,watch\n"))
		require.Equal(t, http.StatusForbidden, st)
	})
}

func TestTheDeviceListIsSearchableAndPaged(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.Config(t))
	var csv strings.Builder
	csv.WriteString("id,kind,serial,model\n")
	for i := range 25 {
		kind := []string{"watch", "cuff", "oximeter"}[i%3]
		fmt.Fprintf(&csv, "unit-%02d,%s,SER-%02d,Model %s\n", i, kind, i, strings.ToUpper(kind))
	}
	var got bulkAnswer
	st, body := s.Raw(t, "POST", "/api/v1/devices/bulk", s.Admin(), "text/csv", "", []byte(csv.String()))
	require.Equal(t, http.StatusCreated, st, "%s", body)
	require.NoError(t, json.Unmarshal(body, &got))
	secret := map[string]string{}
	for _, d := range got.Devices {
		secret[d.ID] = d.Secret
	}
	// A device says its battery and firmware on its status topic.
	dev := harness.Connect(t, s.BrokerURL(), "unit-04", secret["unit-04"])
	dev.PublishTo("vitalwire/v1/devices/unit-04/status", `{"online":true,"battery":0.42,"firmware":"2.1.7"}`)

	t.Run("pages follow each other by their next link, each device once, in order", func(t *testing.T) {
		var ids []string
		next := "/api/v1/devices?limit=10"
		pages := 0
		for next != "" {
			var p devicePage
			s.MustCall(t, http.StatusOK, "GET", next, s.Admin(), nil, &p)
			require.LessOrEqual(t, len(p.Devices), 10)
			require.Equal(t, 25, p.Total)
			for _, d := range p.Devices {
				ids = append(ids, d.ID)
			}
			next = p.Next
			pages++
		}
		require.Equal(t, 3, pages)
		require.Len(t, ids, 25)
		for i, id := range ids {
			require.Equal(t, fmt.Sprintf("unit-%02d", i), id)
		}
	})

	t.Run("a search finds devices by kind, model or serial, paged the same way", func(t *testing.T) {
		p := listDevices(t, s, "?q=oximeter&limit=5")
		require.Equal(t, 8, p.Total)
		require.Len(t, p.Devices, 5)
		require.NotEmpty(t, p.Next)
		u, err := url.Parse(p.Next)
		require.NoError(t, err)
		require.Equal(t, "oximeter", u.Query().Get("q"), "the next page searches the same")
		require.Equal(t, 1, listDevices(t, s, "?q=ser-17").Total, "case does not matter")
		require.Equal(t, 0, listDevices(t, s, "?q=nothing-like-it").Total)
	})

	t.Run("the list shows battery, firmware and last seen", func(t *testing.T) {
		require.Eventually(t, func() bool {
			p := listDevices(t, s, "?q=unit-04")
			return len(p.Devices) == 1 && p.Devices[0].Status.Battery != nil && p.Devices[0].Status.Firmware == "2.1.7"
		}, 10*time.Second, 50*time.Millisecond)
		d := listDevices(t, s, "?q=unit-04").Devices[0]
		require.InDelta(t, 0.42, *d.Status.Battery, 1e-9)
		require.WithinDuration(t, time.Now(), d.Status.LastSeen, time.Minute)
	})

	t.Run("a page size past the maximum and a bad cursor are refused", func(t *testing.T) {
		require.Equal(t, http.StatusBadRequest, s.Call(t, "GET", "/api/v1/devices?limit=100000", s.Admin(), nil, nil))
		require.Equal(t, http.StatusBadRequest, s.Call(t, "GET", "/api/v1/devices?after=%00", s.Admin(), nil, nil))
		require.Equal(t, http.StatusBadRequest, s.Call(t, "GET", "/api/v1/devices?q="+strings.Repeat("x", 200), s.Admin(), nil, nil))
	})
}

func TestTheAdminDevicesPageSearchesPagesAndEnrolsFromACSV(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.Config(t))
	var csv strings.Builder
	csv.WriteString("id,kind,serial,model\n")
	for i := range 120 {
		kind, model := "watch", "Acme W2"
		if i%4 == 0 {
			kind, model = "cuff", "Omron X7"
		}
		fmt.Fprintf(&csv, "ward-%03d,%s,SN-%03d,%s\n", i, kind, i, model)
	}
	var got bulkAnswer
	st, body := s.Raw(t, "POST", "/api/v1/devices/bulk", s.Admin(), "text/csv", "", []byte(csv.String()))
	require.Equal(t, http.StatusCreated, st, "%s", body)
	require.NoError(t, json.Unmarshal(body, &got))
	dev := harness.Connect(t, s.BrokerURL(), got.Devices[1].ID, got.Devices[1].Secret)
	dev.PublishTo("vitalwire/v1/devices/ward-001/status", `{"online":true,"battery":0.81,"firmware":"3.0.2"}`)
	require.Eventually(t, func() bool {
		p := listDevices(t, s, "?q=ward-001")
		return len(p.Devices) == 1 && p.Devices[0].Status.Firmware == "3.0.2"
	}, 10*time.Second, 50*time.Millisecond)

	adm := s.SignIn(t, testenv.StartBrowser(t), "root", auth.RoleAdmin)
	count := `document.querySelector('#device-count').textContent`
	adm.Wait(count+` === 'Devices 1–50 of 120'`, 15*time.Second)

	t.Run("a row shows the device's kind, model, serial, battery, firmware and last seen", func(t *testing.T) {
		row := testenv.Eval[string](adm, `[...document.querySelectorAll('#device-list tbody tr')].find(r => r.cells[0].textContent === 'ward-001').textContent`)
		for _, want := range []string{"watch", "Acme W2", "SN-001", "online", "81 %", "3.0.2", "s ago"} {
			require.Contains(t, row, want)
		}
	})

	t.Run("the pager walks the list and back", func(t *testing.T) {
		testenv.Eval[bool](adm, `(document.querySelector('#devices-next').click(), true)`)
		adm.Wait(count+` === 'Devices 51–100 of 120'`, 10*time.Second)
		testenv.Eval[bool](adm, `(document.querySelector('#devices-next').click(), true)`)
		adm.Wait(count+` === 'Devices 101–120 of 120' && document.querySelector('#devices-next').disabled`, 10*time.Second)
		testenv.Eval[bool](adm, `(document.querySelector('#devices-prev').click(), true)`)
		adm.Wait(count+` === 'Devices 51–100 of 120'`, 10*time.Second)
	})

	t.Run("a search narrows the list to what matches", func(t *testing.T) {
		testenv.Eval[bool](adm, `(() => { document.querySelector('#device-search').value = 'omron';
			document.querySelector('form[role=search]').requestSubmit(); return true })()`)
		adm.Wait(count+` === 'Devices 1–30 of 30'`, 10*time.Second)
		kinds := testenv.Eval[[]string](adm, `[...document.querySelectorAll('#device-list tbody tr')].map(r => r.cells[1].textContent)`)
		require.Len(t, kinds, 30)
		for _, k := range kinds {
			require.Equal(t, "cuff", k)
		}
		adm.Screenshot("devices-search")
		require.Empty(t, harness.Axe(t, adm), "serious accessibility violations on the devices page")
	})

	upload := func(text string) {
		testenv.Eval[bool](adm, `(() => { const dt = new DataTransfer();
			dt.items.add(new File([`+harness.JSString(text)+`], 'fleet.csv', { type: 'text/csv' }));
			const f = document.querySelector('form[aria-label="Enrol a fleet"]');
			f.querySelector('input[type=file]').files = dt.files; f.requestSubmit(); return true })()`)
	}

	t.Run("a CSV with bad rows is refused and its rows are named", func(t *testing.T) {
		upload("id,kind\nnew-1,watch\nnew-2,toaster\nward-003,cuff\n")
		adm.Wait(`document.querySelectorAll('form[aria-label="Enrol a fleet"] tbody tr').length === 2`, 10*time.Second)
		rows := testenv.Eval[[]string](adm, `[...document.querySelectorAll('form[aria-label="Enrol a fleet"] tbody tr')].map(r => r.textContent)`)
		require.Contains(t, rows[0], "3")
		require.Contains(t, rows[0], "toaster")
		require.Contains(t, rows[1], "already registered")
		require.Contains(t, testenv.Eval[string](adm, `document.querySelector('form[aria-label="Enrol a fleet"] .error').textContent`), "nothing was changed")
		adm.Screenshot("devices-enrol-refused")
		require.Empty(t, harness.Axe(t, adm), "serious accessibility violations with the refusal shown")
		require.Equal(t, http.StatusNotFound, s.Call(t, "GET", "/api/v1/devices/new-1", s.Admin(), nil, nil))
	})

	t.Run("a good CSV is enrolled; the secrets are offered once as a file", func(t *testing.T) {
		upload("id,kind,model\nnew-1,watch,Acme W2\nnew-2,oximeter,Nonin 3230\n")
		adm.Wait(`document.querySelector('form[aria-label="Enrol a fleet"] a[download]')`, 10*time.Second)
		require.Contains(t, testenv.Eval[string](adm, `document.querySelector('form[aria-label="Enrol a fleet"] [role=status]').textContent`), "Enrolled 2 devices")
		secrets := testenv.Eval[string](adm, `document.querySelector('#enrol-secrets').value`)
		lines := strings.Split(strings.TrimSpace(secrets), "\n")
		require.Len(t, lines, 3)
		id, secret, _ := strings.Cut(lines[2], ",")
		require.Equal(t, "new-2", id)
		harness.Connect(t, s.BrokerURL(), id, secret) // the secret is the device's
		adm.Wait(count+` === 'Devices 1–30 of 30'`, 10*time.Second)
		adm.Screenshot("devices-enrolled")
	})
}
