package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// NodeBinary returns the path of node, or "" when it is not installed.
func NodeBinary() string { return lookBinary("VITALWIRE_NODE", "node") }

// NodePackages makes sure the npm packages of a test tool directory (one
// with a package.json and a committed package-lock.json, under test/node/)
// are installed, running `npm ci` from the npm registry on first use, and
// returns the directory. A missing node or npm, or a failed install, is a
// missing integration server: the test skips, or fails under
// VITALWIRE_REQUIRE_INTEGRATION=1.
func NodePackages(t testing.TB, dir string) string {
	t.Helper()
	if NodeBinary() == "" {
		Missing(t, "node is not installed")
		return ""
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatalf("node packages: %v", err)
	}
	if !fileExists(filepath.Join(abs, "package-lock.json")) {
		t.Fatalf("node packages: %s has no package-lock.json", abs)
	}
	// Several test binaries may get here at once: install under a lock.
	lock, err := os.OpenFile(filepath.Join(abs, ".npm-install.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("node packages: %v", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("node packages: %v", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if fileExists(filepath.Join(abs, "node_modules", ".package-lock.json")) {
		return abs
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		Missing(t, "npm is not installed")
		return ""
	}
	t.Logf("installing the npm packages of %s (once)", abs)
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	cmd.Dir = abs
	if out, err := cmd.CombinedOutput(); err != nil {
		Missing(t, "npm ci in %s: %v\n%s", abs, err, out)
		return ""
	}
	return abs
}
