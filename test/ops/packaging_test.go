package ops

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
)

// root is the repository's top folder (the tests run in test/ops).
func root(t testing.TB) string {
	t.Helper()
	abs, err := filepath.Abs("../..")
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(abs, "go.mod"))
	return abs
}

// instruction is one Dockerfile instruction: its keyword (upper case), its
// flags (--from=build) and its arguments, continuation lines joined.
type instruction struct {
	Line  int
	Cmd   string
	Flags map[string]string
	Args  string
}

// parseDockerfile reads a Dockerfile as the builder does: comments and
// parser directives skipped, lines ending in a backslash joined, each
// instruction a keyword and its arguments. It fails on anything it does
// not recognise, so a typo in the file fails the test.
func parseDockerfile(t testing.TB, path string) []instruction {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	known := map[string]bool{"FROM": true, "RUN": true, "CMD": true, "LABEL": true, "EXPOSE": true, "ENV": true, "ADD": true,
		"COPY": true, "ENTRYPOINT": true, "VOLUME": true, "USER": true, "WORKDIR": true, "ARG": true, "ONBUILD": true,
		"STOPSIGNAL": true, "HEALTHCHECK": true, "SHELL": true}
	var out []instruction
	var cur strings.Builder
	start, n := 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		text := cur.String()
		cur.Reset()
		kw, rest, _ := strings.Cut(text, " ")
		kw = strings.ToUpper(kw)
		require.True(t, known[kw], "Dockerfile:%d: unknown instruction %q", start, kw)
		in := instruction{Line: start, Cmd: kw, Flags: map[string]string{}}
		rest = strings.TrimSpace(rest)
		for strings.HasPrefix(rest, "--") {
			flag, after, _ := strings.Cut(rest, " ")
			k, v, _ := strings.Cut(strings.TrimPrefix(flag, "--"), "=")
			in.Flags[k] = v
			rest = strings.TrimSpace(after)
		}
		in.Args = rest
		out = append(out, in)
	}
	require.NoError(t, sc.Err())
	require.Zero(t, cur.Len(), "Dockerfile ends inside a continued line")
	return out
}

type stage struct {
	Name, Image string
	Steps       []instruction
}

func stages(t testing.TB, ins []instruction, args map[string]string) []stage {
	t.Helper()
	var out []stage
	for _, in := range ins {
		if in.Cmd == "FROM" {
			f := strings.Fields(in.Args)
			image := os.Expand(f[0], func(k string) string { return args[k] })
			s := stage{Image: image}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.Name = f[2]
			} else {
				require.Len(t, f, 1, "Dockerfile:%d: FROM image [AS name]", in.Line)
			}
			out = append(out, s)
			continue
		}
		if len(out) == 0 {
			require.Equal(t, "ARG", in.Cmd, "Dockerfile:%d: only ARG comes before the first FROM", in.Line)
			k, v, _ := strings.Cut(in.Args, "=")
			args[k] = strings.Trim(v, `"`)
			continue
		}
		out[len(out)-1].Steps = append(out[len(out)-1].Steps, in)
	}
	return out
}

// The Dockerfile is a multi-stage build of a static binary onto a small
// base, run as a numeric non-root user; its build stage's RUN lines,
// run here as the script they are, make a tree holding everything the
// runtime stage copies, with a binary that runs and says its version.
func TestDockerfileBuildsAStaticNonRootImage(t *testing.T) {
	t.Parallel()
	dir := root(t)
	ins := parseDockerfile(t, filepath.Join(dir, "Dockerfile"))
	globals := map[string]string{}
	st := stages(t, ins, globals)
	require.GreaterOrEqual(t, len(st), 2, "multi-stage")
	build, final := st[0], st[len(st)-1]
	require.Equal(t, "build", build.Name)
	require.Regexp(t, `^golang:\d+\.\d+(\.\d+)?-\w+$`, build.Image, "a pinned Go release")
	mod := goModVersion(t, dir)
	require.True(t, strings.HasPrefix(build.Image, "golang:"+mod+"-") || strings.HasPrefix(build.Image, "golang:"+mod+"."),
		"the build image's Go release (%s) is go.mod's (%s)", build.Image, mod)
	require.Regexp(t, `^(gcr\.io/distroless/static-debian\d+:nonroot|debian:\w+-slim)$`, final.Image, "a small base")

	var user, entrypoint string
	exposed := map[string]bool{}
	var copies []instruction
	for _, in := range final.Steps {
		switch in.Cmd {
		case "USER":
			user = in.Args
		case "ENTRYPOINT":
			entrypoint = in.Args
		case "EXPOSE":
			for _, p := range strings.Fields(in.Args) {
				exposed[p] = true
			}
		case "COPY":
			copies = append(copies, in)
		case "ADD", "RUN":
			t.Fatalf("Dockerfile:%d: the runtime stage only copies from the build (no shell on distroless, no downloads)", in.Line)
		}
	}
	require.Regexp(t, `^[1-9]\d*:[1-9]\d*$`, user, "a numeric non-root user and group (Kubernetes runAsNonRoot can check it)")
	var ep []string
	require.NoError(t, json.Unmarshal([]byte(entrypoint), &ep), "ENTRYPOINT in exec form (signals reach the server)")
	require.Equal(t, []string{"/usr/local/bin/vitalwire"}, ep)

	// The image's configuration validates, and its listeners are the
	// exposed ports.
	cfg := loadConfig(t, filepath.Join(dir, "deploy/image/vitalwire.yaml"), nil)
	for _, addr := range []string{cfg.HTTP.Addr, cfg.Broker.Addr} {
		_, port, err := net.SplitHostPort(addr)
		require.NoError(t, err)
		require.True(t, exposed[port], "EXPOSE %s (a listener of the image's config)", port)
	}

	// The build stage, as a script: WORKDIR is this checkout, its RUN
	// lines run in order with its ARG and ENV.
	imageRoot := filepath.Join(t.TempDir(), "image-root")
	env := append(os.Environ(), "VERSION=v9.8.7-test", "REVISION=0123456789abcdef0123456789abcdef01234567", "BUILD_DATE=2026-12-02T13:00:00Z")
	var envRoot string
	var runs int
	for _, in := range build.Steps {
		switch in.Cmd {
		case "ENV":
			k, v, ok := strings.Cut(in.Args, "=")
			require.True(t, ok, "Dockerfile:%d: ENV KEY=VALUE", in.Line)
			if k == "IMAGE_ROOT" {
				envRoot, v = v, imageRoot
			}
			env = append(env, k+"="+v)
		case "RUN":
			cmd := exec.Command("sh", "-euc", in.Args)
			cmd.Dir, cmd.Env = dir, env
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "Dockerfile:%d: RUN %s\n%s", in.Line, in.Args, out)
			runs++
			if strings.Contains(in.Args, "build-image-root.sh") {
				require.Contains(t, string(out), "vitalwire v9.8.7-test (rev 0123456789ab, built 2026-12-02T13:00:00Z, "+runtime.Version()+")",
					"the built binary runs and says the stamped version")
			}
		case "ADD":
			t.Fatalf("Dockerfile:%d: COPY, not ADD", in.Line)
		}
	}
	require.Equal(t, 2, runs, "go mod download, then the image root script")
	require.Equal(t, "/image-root", envRoot)

	for _, c := range copies {
		require.Equal(t, "build", c.Flags["from"], "Dockerfile:%d: the runtime stage copies from the build stage", c.Line)
		f := strings.Fields(c.Args)
		require.Len(t, f, 2)
		require.True(t, strings.HasPrefix(f[0], envRoot+"/"), "Dockerfile:%d: copies from the image root", c.Line)
		require.DirExists(t, filepath.Join(imageRoot, strings.TrimPrefix(f[0], envRoot)), "Dockerfile:%d: the script made %s", c.Line, f[0])
		if f[1] != "/usr" {
			require.Equal(t, user, c.Flags["chown"], "Dockerfile:%d: state and config belong to the service's user", c.Line)
		}
	}
	bin := filepath.Join(imageRoot, "usr/local/bin/vitalwire")
	ef, err := elf.Open(bin)
	require.NoError(t, err)
	defer ef.Close()
	for _, p := range ef.Progs {
		require.NotEqual(t, elf.PT_INTERP, p.Type, "a static binary: distroless/static has no C library")
	}
	require.FileExists(t, filepath.Join(imageRoot, "usr/share/doc/vitalwire/LICENSE"))
	require.FileExists(t, filepath.Join(imageRoot, "etc/vitalwire/vitalwire.yaml"))

	ignore, err := os.ReadFile(filepath.Join(dir, ".dockerignore"))
	require.NoError(t, err)
	for _, p := range []string{".git", "**/node_modules", "data"} {
		require.Contains(t, strings.Fields(string(ignore)), p, ".dockerignore keeps %s out of the build context", p)
	}
}

func goModVersion(t testing.TB, dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(b)
	require.NotNil(t, m)
	return string(m[1])
}

// loadConfig loads a shipped configuration as `vitalwire serve --config`
// does, with env as the environment, and requires it to validate.
func loadConfig(t testing.TB, path string, env []string) app.Config {
	t.Helper()
	cfg := app.DefaultConfig()
	require.NoError(t, cfg.LoadFile(path), path)
	require.NoError(t, cfg.ApplyEnv(env), path)
	cfg.Finish()
	require.NoError(t, cfg.Validate(), path)
	return cfg
}

// The compose file parses, pins its images, publishes only the device and
// HTTPS ports, keeps InfluxDB and Mosquitto's service listener on its own
// network, and hands Vitalwire a configuration that validates with the
// environment it sets.
func TestComposeFileIsSane(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(root(t), "deploy/compose")
	b, err := os.ReadFile(filepath.Join(dir, "compose.yaml"))
	require.NoError(t, err)
	var c struct {
		Name     string `yaml:"name"`
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Restart     string            `yaml:"restart"`
			Build       map[string]string `yaml:"build"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
			Ports       []string          `yaml:"ports"`
			DependsOn   map[string]struct {
				Condition string `yaml:"condition"`
			} `yaml:"depends_on"`
			Healthcheck *struct {
				Test     []string `yaml:"test"`
				Interval string   `yaml:"interval"`
				Timeout  string   `yaml:"timeout"`
				Retries  int      `yaml:"retries"`
			} `yaml:"healthcheck"`
			ReadOnly    bool     `yaml:"read_only"`
			CapDrop     []string `yaml:"cap_drop"`
			SecurityOpt []string `yaml:"security_opt"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&c), "compose.yaml parses, with no field this check does not know")
	require.ElementsMatch(t, []string{"vitalwire", "mosquitto", "influxdb"}, keys(c.Services))

	for name, s := range c.Services {
		require.NotEmpty(t, s.Image, name)
		require.Equal(t, "unless-stopped", s.Restart, "%s comes back after a crash or a reboot", name)
		if name != "vitalwire" {
			require.Regexp(t, `^[\w./-]+:\d+\.\d+\.\d+$`, s.Image, "%s: an image pinned to a release, never latest", name)
		}
		for _, v := range s.Volumes {
			parts := strings.Split(v, ":")
			require.GreaterOrEqual(t, len(parts), 2, "%s: volume %q is SOURCE:TARGET[:ro]", name, v)
			src := parts[0]
			if strings.HasPrefix(src, ".") {
				if st, err := os.Stat(filepath.Join(dir, src)); err == nil {
					require.True(t, st.Mode().IsRegular(), "%s: %s", name, src)
				} else {
					require.Contains(t, []string{"./tls/vitalwire", "./tls/mosquitto", "./mosquitto-vitalwire"}, src,
						"%s: a bind-mounted file that is not in deploy/compose must be one docs/DEPLOY.md makes", name)
				}
			} else {
				require.Contains(t, c.Volumes, src, "%s: named volume %s is declared", name, src)
			}
		}
		for _, env := range s.Environment {
			if strings.Contains(env, "PASSWORD") || strings.Contains(env, "TOKEN") {
				require.Regexp(t, `^\$\{[A-Z_]+:\?[^}]+\}$`, env, "%s: a secret comes from .env, and compose refuses to start without it", name)
			}
		}
	}
	vw, mq, in := c.Services["vitalwire"], c.Services["mosquitto"], c.Services["influxdb"]
	require.Equal(t, "../..", vw.Build["context"])
	require.Equal(t, "Dockerfile", vw.Build["dockerfile"])
	require.Equal(t, []string{"8443:8443"}, vw.Ports)
	require.Equal(t, []string{"8883:8883"}, mq.Ports, "devices reach Mosquitto's TLS listener; its service listener is not published")
	require.Empty(t, in.Ports, "InfluxDB is reached by Vitalwire only")
	require.Equal(t, "service_healthy", vw.DependsOn["influxdb"].Condition)
	require.NotNil(t, in.Healthcheck)
	require.True(t, vw.ReadOnly)
	require.Equal(t, []string{"ALL"}, vw.CapDrop)
	require.Contains(t, vw.SecurityOpt, "no-new-privileges:true")
	require.Contains(t, vw.Volumes, "./mosquitto-vitalwire:/etc/mosquitto-vitalwire", "mosquitto-config writes where Mosquitto reads")
	require.Contains(t, mq.Volumes, "./mosquitto-vitalwire:/mosquitto/config/vitalwire:ro")

	// Vitalwire's configuration there, with the environment compose sets.
	var env []string
	for k := range vw.Environment {
		env = append(env, k+"=placeholder-secret")
	}
	cfg := loadConfig(t, filepath.Join(dir, "vitalwire.yaml"), env)
	require.Equal(t, "placeholder-secret", cfg.MQTT.Password, "VITALWIRE_MQTT_PASSWORD reaches mqtt.password")
	require.Equal(t, "placeholder-secret", cfg.Store.Influx.Token, "VITALWIRE_STORE_INFLUX_TOKEN reaches store.influx.token")
	require.False(t, cfg.Broker.Embedded)
	require.Equal(t, "tcp://mosquitto:1884", cfg.MQTT.Broker)
	require.Equal(t, "http://influxdb:8086", cfg.Store.Influx.URL)
	require.Equal(t, in.Environment["DOCKER_INFLUXDB_INIT_ORG"], cfg.Store.Influx.Org)
	require.Equal(t, in.Environment["DOCKER_INFLUXDB_INIT_BUCKET"], cfg.Store.Influx.Bucket)
	_, port, _ := net.SplitHostPort(cfg.HTTP.Addr)
	require.Equal(t, port+":"+port, vw.Ports[0])
	require.True(t, cfg.TLS.Enabled(), "HTTPS")

	conf, err := os.ReadFile(filepath.Join(dir, "mosquitto.conf"))
	require.NoError(t, err)
	require.Contains(t, string(conf), "include_dir /mosquitto/config/vitalwire")
	require.NotRegexp(t, `(?m)^\s*(listener|allow_anonymous|password_file|acl_file)\b`, string(conf),
		"the listeners and authentication come from mosquitto-config's files only (docs/BROKERS.md)")
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// unitSettings reads a systemd unit's [Service] settings (a key may repeat).
func unitSettings(t testing.TB, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	out := map[string][]string{}
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		if section == "[Service]" {
			k, v, _ := strings.Cut(line, "=")
			out[k] = append(out[k], v)
		}
	}
	return out
}

// The systemd unit passes systemd-analyze verify without a word, carries
// the hardening the service can live with, and gives write access where
// its configuration keeps data.
func TestSystemdUnitVerifiesAndIsHardened(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		testenv.Missing(t, "systemd-analyze not found (apt-get install -y systemd)")
	}
	dir := root(t)
	unit := filepath.Join(dir, "deploy/systemd/vitalwire.service")
	s := unitSettings(t, unit)
	for k, want := range map[string]string{
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
		"CapabilityBoundingSet": "", "AmbientCapabilities": "", "RestrictSUIDSGID": "yes", "MemoryDenyWriteExecute": "yes",
		"UMask": "0077", "User": "vitalwire", "KillSignal": "SIGTERM", "Restart": "on-failure",
	} {
		require.Equal(t, []string{want}, s[k], "%s=%s", k, want)
	}
	cfg := loadConfig(t, filepath.Join(dir, "deploy/systemd/vitalwire.yaml"), nil)
	rw := strings.Fields(strings.Join(s["ReadWritePaths"], " "))
	for _, p := range []string{cfg.DataDir, filepath.Dir(cfg.Auth.Audit.ChainKeyFile), filepath.Dir(cfg.Auth.Audit.CheckpointFile),
		filepath.Dir(cfg.Records.Path), filepath.Dir(cfg.Store.SQLitePath), cfg.Ingest.SpoolDir} {
		var ok bool
		for _, w := range rw {
			ok = ok || p == w || strings.HasPrefix(p, w+"/")
		}
		require.True(t, ok, "%s is writable under ProtectSystem=strict (ReadWritePaths=%v)", p, rw)
	}
	exe := strings.Fields(s["ExecStart"][0])
	require.Equal(t, []string{"/usr/local/bin/vitalwire", "serve", "--config", "/etc/vitalwire/vitalwire.yaml"}, exe)

	// verify wants ExecStart's program to exist: the built binary stands in
	// for /usr/local/bin/vitalwire; nothing else changes.
	b, err := os.ReadFile(unit)
	require.NoError(t, err)
	tmp := filepath.Join(t.TempDir(), "vitalwire.service")
	require.NoError(t, os.WriteFile(tmp, []byte(strings.ReplaceAll(string(b), "ExecStart=/usr/local/bin/vitalwire", "ExecStart="+harness.Binary(t))), 0o644))
	out, err := exec.Command(analyze, "verify", tmp).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify has nothing to say (it warns with exit status 0)")
}
