package harness

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// ServeOn serves h on a loopback port until the test ends: a webhook
// receiver, which may come up later than the service that calls it.
func ServeOn(t testing.TB, port int, h http.Handler) {
	t.Helper()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err)
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/vitalwire once per test binary and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vitalwire-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "vitalwire")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/vitalwire/vitalwire/cmd/vitalwire").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

// Server is a `vitalwire serve` child process.
type Server struct {
	URL  string
	Cmd  *exec.Cmd
	Done chan struct{} // closed when the process has exited
	Err  error         // its exit status, once Done is closed
}

// StartServer runs `vitalwire serve --config config` until the test ends
// and waits until url answers /readyz.
func StartServer(t testing.TB, bin, config, url string) *Server {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--config", config)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	s := &Server{URL: url, Cmd: cmd, Done: make(chan struct{})}
	go func() { s.Err = cmd.Wait(); close(s.Done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.Done
	})
	waitReady(t, url)
	return s
}
