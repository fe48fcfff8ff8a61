package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/topic"
)

// runCLI runs the command line in-process and returns its exit code and
// output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// flagNames returns the flags a usage text lists, one a line ("  --name").
func flagNames(usage string) []string {
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^  --([a-z0-9-]+)`).FindAllStringSubmatch(usage, -1) {
		names = append(names, m[1])
	}
	return names
}

var serveOnly = []string{"dev", "http-addr", "broker-addr", "store", "simulate-patients", "log-level"}

func TestACommandsHelpListsOnlyItsOwnFlags(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		has      []string
		hasNot   []string
		synopsis string
	}{
		{"token create takes a subject, a role and where the key is, not serve's flags",
			[]string{"token", "create", "-h"}, []string{"sub", "role", "ttl", "config", "data-dir"}, serveOnly, "usage: vitalwire token create"},
		{"mosquitto-config takes its folder and where the records are, not serve's flags",
			[]string{"mosquitto-config", "-h"}, []string{"out", "service-user", "config", "data-dir"}, serveOnly, "usage: vitalwire mosquitto-config"},
		{"audit export takes its filters and where the records are, not serve's flags",
			[]string{"audit", "export", "-h"}, []string{"from", "to", "patient", "config", "data-dir"}, serveOnly, "usage: vitalwire audit"},
		{"serve has the server's flags",
			[]string{"serve", "-h"}, append([]string{"config", "data-dir"}, serveOnly...), nil, "usage: vitalwire serve"},
		{"a client command has the client's flags",
			[]string{"readings", "--help"}, []string{"patient", "server", "token", "data-dir"}, append([]string{"config"}, serveOnly...), "usage: vitalwire readings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			require.Equal(t, 0, code, stderr)
			require.Empty(t, stderr, "asked for, the help goes to stdout")
			require.Contains(t, stdout, tc.synopsis)
			names := flagNames(stdout)
			for _, f := range tc.has {
				require.Contains(t, names, f, stdout)
			}
			for _, f := range tc.hasNot {
				require.NotContains(t, names, f, stdout)
			}
		})
	}
}

func TestServesFlagsAreRefusedElsewhere(t *testing.T) {
	for _, args := range [][]string{
		{"token", "create", "--sub", "ada", "--role", "admin", "--dev"},
		{"token", "create", "--sub", "ada", "--role", "admin", "--http-addr", "127.0.0.1:9"},
		{"mosquitto-config", "--out", "x", "--dev"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			// Were the flag taken, the command would write into this folder.
			code, stdout, stderr := runCLI(t, append(args, "--data-dir", t.TempDir())...)
			require.Equal(t, 2, code)
			require.Empty(t, stdout)
			require.Contains(t, stderr, "flag provided but not defined")
			require.Contains(t, stderr, "usage: vitalwire "+args[0])
		})
	}
}

func TestVersion(t *testing.T) {
	t.Run("version prints the build's version and Go release", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "version")
		require.Equal(t, 0, code, stderr)
		require.Regexp(t, `^vitalwire \S+ \((rev [0-9a-f]+(\+dirty)?, )?go1\.\d+\S*\)\n$`, stdout)
	})
	t.Run("the usage lists version", func(t *testing.T) {
		_, stdout, _ := runCLI(t, "help")
		require.Contains(t, stdout, "vitalwire version")
	})
	for _, tc := range []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"a released build shows its version and revision",
			debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.4.1"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123def4567890abc123def4567890abc12345"}, {Key: "vcs.modified", Value: "false"}}},
			"vitalwire v0.4.1 (rev abc123def456, go1.26.8)"},
		{"a build from a changed checkout says so",
			debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123def4567890"}, {Key: "vcs.modified", Value: "true"}}},
			"vitalwire (devel) (rev abc123def456+dirty, go1.26.8)"},
		{"a build without VCS information shows no revision",
			debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			"vitalwire (devel) (go1.26.8)"},
		{"a build without a module version is a development build",
			debug.BuildInfo{GoVersion: "go1.26.8"},
			"vitalwire (devel) (go1.26.8)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, describeBuild(&tc.bi))
		})
	}
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vitalwire")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

// TestTheNewcomerPath follows the README: serve --dev, see the simulated
// patients' readings with the CLI, add a device, publish with mosquitto_pub,
// see the reading, revoke the device.
func TestTheNewcomerPath(t *testing.T) {
	pub, err := exec.LookPath("mosquitto_pub")
	if err != nil {
		testenv.Missing(t, "mosquitto_pub not found (apt-get install -y mosquitto-clients)")
	}
	bin := buildBinary(t)
	data := t.TempDir()
	httpPort, mqttPort := testenv.FreePort(t), testenv.FreePort(t)
	srv := exec.Command(bin, "serve", "--dev", "--data-dir", data,
		"--http-addr", fmt.Sprintf("127.0.0.1:%d", httpPort), "--broker-addr", fmt.Sprintf("127.0.0.1:%d", mqttPort),
		"--log-level", "warn")
	stdout, err := srv.StdoutPipe()
	require.NoError(t, err)
	var logs strings.Builder
	srv.Stderr = &logs
	srv.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, srv.Start())
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	t.Cleanup(func() { srv.Process.Kill() })

	banner := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Simulated patients:") {
				banner <- b.String()
			}
		}
	}()
	var clinicianLink string
	select {
	case b := <-banner:
		require.Contains(t, b, fmt.Sprintf("http://127.0.0.1:%d", httpPort))
		for _, line := range strings.Split(b, "\n") {
			if l, ok := strings.CutPrefix(strings.TrimSpace(line), "clinician: "); ok {
				clinicianLink = l
			}
		}
	case err := <-exited:
		t.Fatalf("serve --dev exited: %v\n%s", err, logs.String())
	case <-time.After(60 * time.Second):
		t.Fatal("no start banner within 60 s")
	}

	cli := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append(args, "--data-dir", data)...).CombinedOutput()
		return string(out), err
	}

	t.Run("the simulated patients' readings show within a minute", func(t *testing.T) {
		var out string
		require.Eventually(t, func() bool {
			out, _ = cli("readings", "--patient", "sim-patient-001", "--since", "5m")
			return strings.Contains(out, "heart_rate") && strings.Contains(out, "spo2") && strings.Contains(out, "respiratory_rate")
		}, 60*time.Second, 250*time.Millisecond, "readings output:\n%s", out)
		require.Contains(t, out, "sim-patient-001-watch")
	})

	t.Run("the printed link opens the dashboard in a browser, with live vitals", func(t *testing.T) {
		require.NotEmpty(t, clinicianLink, "the banner prints a sign-in link")
		tab := testenv.StartBrowser(t).Tab(t)
		tab.Go(clinicianLink)
		tab.Wait(`document.querySelectorAll('li.tile').length === 5`, 30*time.Second)
		hr := `document.querySelector('[data-patient="sim-patient-001"] [data-vital="heart_rate"] .age').textContent`
		tab.Wait(hr+`.endsWith('s ago')`, 30*time.Second)
		// The age of the latest heart rate keeps resetting: the tile is live.
		first := testenv.Eval[string](tab, `document.querySelector('[data-patient="sim-patient-001"]').dataset.patient`)
		require.Equal(t, "sim-patient-001", first[:15])
		tab.Wait(`(() => { const v = window.vitalwire; return v.rendered > 20 })()`, 30*time.Second)
		tab.Screenshot("newcomer-dashboard")
	})

	var secret string
	t.Run("a device added with the CLI publishes with mosquitto_pub and its reading appears", func(t *testing.T) {
		out, err := cli("device", "add", "thermo-9", "--kind", "thermometer", "--patient", "sim-patient-001")
		require.NoError(t, err, out)
		for _, line := range strings.Split(out, "\n") {
			if s, ok := strings.CutPrefix(line, "secret: "); ok {
				secret = s
			}
		}
		require.Len(t, secret, 32)
		msg := `{"type":"body_temperature","value":101.3,"unit":"[degF]","time":"` + time.Now().UTC().Format(time.RFC3339Nano) + `"}`
		b, err := exec.Command(pub, "-h", "127.0.0.1", "-p", fmt.Sprint(mqttPort), "-u", "thermo-9", "-P", secret,
			"-i", "thermo-9", "-q", "1", "-t", topic.Readings("thermo-9"), "-m", msg).CombinedOutput()
		require.NoError(t, err, string(b))
		// The broker acknowledged only once the reading was durable, so it
		// is there at once.
		out, err = cli("readings", "--patient", "sim-patient-001", "--type", "body_temperature", "--json")
		require.NoError(t, err, out)
		var all []struct {
			Type, Unit, Device string
			Value              float64
		}
		require.NoError(t, json.Unmarshal([]byte(out), &all), out)
		var rs = all[:0]
		for _, r := range all {
			if r.Device == "thermo-9" {
				rs = append(rs, r)
			}
		}
		require.Len(t, rs, 1)
		require.Equal(t, "body_temperature", rs[0].Type)
		require.Equal(t, "Cel", rs[0].Unit)
		require.InDelta(t, 38.5, rs[0].Value, 1e-9)
		require.Equal(t, "thermo-9", rs[0].Device)
	})

	t.Run("a wrong password and a revoked device are refused by the broker", func(t *testing.T) {
		args := func(pw string) []string {
			return []string{"-h", "127.0.0.1", "-p", fmt.Sprint(mqttPort), "-u", "thermo-9", "-P", pw, "-q", "1",
				"-t", topic.Readings("thermo-9"), "-m", "{}"}
		}
		require.Error(t, exec.Command(pub, args(secret+"x")...).Run())
		out, err := cli("device", "revoke", "thermo-9")
		require.NoError(t, err, out)
		require.Contains(t, out, "revoked")
		require.Error(t, exec.Command(pub, args(secret)...).Run())
		out, err = cli("device", "list")
		require.NoError(t, err)
		require.Regexp(t, `thermo-9\s+thermometer\s+-\s+revoked`, out)
	})

	t.Run("tokens carry roles: a clinician outside the care team reads nothing until break-glass", func(t *testing.T) {
		out, err := exec.Command(bin, "token", "create", "--sub", "dr-ada", "--role", "clinician", "--data-dir", data).Output()
		require.NoError(t, err)
		tok := strings.TrimSpace(string(out))
		get := func(path, token string) int {
			req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", httpPort, path), nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			return resp.StatusCode
		}
		require.Equal(t, http.StatusForbidden, get("/api/v1/patients/sim-patient-001/readings", tok))
		require.Equal(t, http.StatusForbidden, get("/api/v1/devices", tok))
		require.Equal(t, http.StatusUnauthorized, get("/api/v1/patients/sim-patient-001/readings", ""))
		clin, err := os.ReadFile(filepath.Join(data, "clinician.token"))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, get("/api/v1/patients/sim-patient-001/readings", strings.TrimSpace(string(clin))), "the dev clinician's ward")
	})

	t.Run("an admin charts a patient and a care team; the audit chain verifies", func(t *testing.T) {
		out, err := cli("patient", "add", "pt-77", "--mrn", "MRN-77", "--name", "Ada Example", "--birth-date", "1948-05-06", "--scale", "2", "--on-oxygen")
		require.NoError(t, err, out)
		out, err = cli("team", "add", "night-team", "--name", "Night team")
		require.NoError(t, err, out)
		out, err = cli("team", "add-member", "night-team", "--clinician", "dr-ada")
		require.NoError(t, err, out)
		out, err = cli("team", "add-member", "night-team", "--patient", "pt-77")
		require.NoError(t, err, out)
		out, err = cli("team", "list")
		require.NoError(t, err, out)
		require.Contains(t, out, "night-team (Night team)")
		vb, err := exec.Command(bin, "audit", "verify", "--data-dir", data).CombinedOutput()
		require.NoError(t, err, string(vb))
		require.Regexp(t, `audit chain intact: \d+ events`, string(vb))
		out2, err := exec.Command(bin, "audit", "export", "--patient", "pt-77", "--data-dir", data).Output()
		require.NoError(t, err)
		require.Contains(t, string(out2), `"patient":"pt-77"`)
	})

	t.Run("SIGTERM drains and exits cleanly", func(t *testing.T) {
		require.NoError(t, srv.Process.Signal(syscall.SIGTERM))
		select {
		case err := <-exited:
			require.NoError(t, err, logs.String())
		case <-time.After(30 * time.Second):
			t.Fatal("no exit within 30 s")
		}
	})
	require.NotContains(t, logs.String(), "101.3", "no vital value in the logs")
	require.NotContains(t, logs.String(), "Ada Example", "no patient name in the logs")
	require.NotContains(t, logs.String(), "Simulated Patient", "no patient name in the logs")
}
