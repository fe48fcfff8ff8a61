package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/simulators"
)

// Dev mode: what a newcomer needs on one machine — tokens and sign-in
// links for a clinician and an admin, written where the CLI finds them,
// and simulated patients publishing through the embedded broker.

// DevClinician and DevWard are the clinician and care team of the
// simulated patients.
const (
	DevClinician = "dev-clinician"
	DevWard      = "dev-ward"
)

// DevAccess is what dev mode hands the newcomer.
type DevAccess struct {
	AdminToken, ClinicianToken   string
	AdminSignIn, ClinicianSignIn string
}

func (a *App) initDev(context.Context) error {
	if !a.cfg.Dev {
		return nil
	}
	ttl := a.cfg.Auth.TokenTTL
	admin, _ := a.signer.Mint("dev-admin", auth.RoleAdmin, ttl)
	// The dev clinician cares for the simulated patients (dev-ward).
	clinician, _ := a.signer.Mint(DevClinician, auth.RoleClinician, ttl)
	a.dev = DevAccess{AdminToken: admin, ClinicianToken: clinician,
		ClinicianSignIn: httpapi.NewSignInLink(a.signer, a.URL(), DevClinician, auth.RoleClinician, 12*time.Hour).URL,
		AdminSignIn:     httpapi.NewSignInLink(a.signer, a.URL(), "dev-admin", auth.RoleAdmin, 12*time.Hour).URL}
	for name, content := range map[string]string{"admin.token": admin, "clinician.token": clinician, "server.url": a.URL()} {
		if err := writePrivate(filepath.Join(a.cfg.DataDir, name), content+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// Dev is what dev mode minted (empty without --dev).
func (a *App) Dev() DevAccess { return a.dev }

func (a *App) initSimulation(ctx context.Context) error {
	if a.cfg.Sim.Patients <= 0 {
		return nil
	}
	if a.broker == nil {
		return errors.New("simulate.patients needs the embedded broker")
	}
	now := time.Now().UTC().Truncate(time.Second)
	sc := simulators.DemoScenario(a.cfg.Sim.Patients, now, uint64(now.UnixNano()))
	sc.UploadEvery = a.cfg.Sim.Interval
	if err := a.chartSimulated(ctx, sc); err != nil {
		return err
	}
	devs, err := a.provisionSimulated(ctx, sc.DeviceIDs())
	if err != nil {
		return err
	}
	secrets := map[string]string{}
	for _, d := range devs {
		secrets[d.ID] = d.Secret
	}
	brokerURL := "tcp://" + a.broker.Addr()
	var simTLS *tls.Config
	if tlsConf, err := a.tlsConfig(); err != nil {
		return err
	} else if tlsConf != nil {
		// The simulated devices trust the server's own certificate.
		brokerURL = "ssl://" + a.broker.Addr()
		if simTLS, err = trusting(tlsConf.Certificates[0]); err != nil {
			return err
		}
	}
	a.sim = &simulators.Runner{Broker: brokerURL, TLS: simTLS, QoS: 1, Sim: simulators.NewSimulation(sc, nil),
		Secrets: secrets, Accel: 1, Log: a.log.With().Str("component", "simulator").Logger()}
	return nil
}

// trusting is a client configuration that trusts cert's chain.
func trusting(cert tls.Certificate) (*tls.Config, error) {
	pool := x509.NewCertPool()
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	pool.AddCert(leaf)
	for _, c := range cert.Certificate[1:] {
		if ca, err := x509.ParseCertificate(c); err == nil {
			pool.AddCert(ca)
		}
	}
	return &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}, nil
}

// provisionSimulated registers the simulated patients' devices once and
// keeps their secrets in the data folder (mode 0600): a secret is shown
// only at creation, and the simulator needs it at every start.
func (a *App) provisionSimulated(ctx context.Context, wanted []simulators.Device) ([]simulators.Device, error) {
	path := filepath.Join(a.cfg.DataDir, "simulated-devices.json")
	known := map[string]simulators.Device{}
	if b, err := os.ReadFile(path); err == nil {
		var list []simulators.Device
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		for _, d := range list {
			known[d.ID] = d
		}
	}
	var out []simulators.Device
	for _, want := range wanted {
		d, saved := known[want.ID]
		_, err := a.devices.Get(want.ID)
		registered := err == nil
		switch {
		case registered && saved && a.devices.Authenticate(want.ID, d.Secret):
			// Reuse the device from an earlier start.
		case registered:
			// Its secret is lost (or it was revoked): ids are never
			// reused, so this simulated device sits out.
			continue
		default:
			secret, err := a.devices.Add(ctx, want.ID, want.Kind)
			if err != nil {
				return nil, fmt.Errorf("provision %s: %w", want.ID, err)
			}
			// Bound from a little in the past so that a reading
			// stamped just before this instant is still attributed.
			if err := a.devices.Bind(ctx, want.ID, want.Patient, time.Now().Add(-time.Minute)); err != nil {
				return nil, fmt.Errorf("provision %s: %w", want.ID, err)
			}
			d = simulators.Device{ID: want.ID, Secret: secret, Kind: want.Kind, Patient: want.Patient}
		}
		out = append(out, d)
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	if err := writePrivate(path, string(b)); err != nil {
		return nil, err
	}
	return out, nil
}

// chartSimulated gives the simulated patients chart records (made-up
// names) in the dev-ward care team of the dev clinician.
func (a *App) chartSimulated(ctx context.Context, sc *simulators.Scenario) error {
	if err := a.chart.AddTeam(ctx, DevWard, "Simulated ward"); err != nil && !errors.Is(err, chart.ErrExists) {
		return err
	}
	if err := a.chart.AddMember(ctx, DevWard, "clinician", DevClinician); err != nil {
		return err
	}
	for i, p := range sc.Patients {
		scale := 1
		if p.Profile.Scale2() {
			scale = 2
		}
		_, err := a.chart.AddPatient(ctx, chart.Patient{ID: p.ID, MRN: fmt.Sprintf("SIM%06d", i+1), Name: fmt.Sprintf("Simulated Patient %d", i+1),
			BirthDate: fmt.Sprintf("19%02d-0%d-1%d", 40+(i*7)%50, 1+i%9, i%10), SpO2Scale: scale, OnOxygen: p.Profile.OnOxygen(),
			Notes: "simulated: " + string(p.Profile)})
		if err != nil && !errors.Is(err, chart.ErrExists) {
			return err
		}
		if err := a.chart.AddMember(ctx, DevWard, "patient", p.ID); err != nil {
			return err
		}
	}
	return nil
}

func writePrivate(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
