package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumBinary returns the Chromium path (VITALWIRE_CHROMIUM, else
// chromium on the PATH), or "".
func ChromiumBinary() string {
	if p := lookBinary("VITALWIRE_CHROMIUM", "chromium"); p != "" {
		return p
	}
	return lookBinary("VITALWIRE_CHROMIUM", "chromium-browser")
}

// Browser is a headless Chromium (the Debian package) driven by chromedp,
// with its own profile folder, stopped when the test ends.
type Browser struct {
	ctx context.Context
}

// StartBrowser starts headless Chromium with a fake camera and microphone.
func StartBrowser(t testing.TB) *Browser {
	t.Helper()
	bin := ChromiumBinary()
	if bin == "" {
		Missing(t, "chromium not found (apt-get install chromium, or set VITALWIRE_CHROMIUM)")
		return nil
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		// WebRTC on loopback: gather 127.0.0.1 candidates, as plain IPs.
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,WebRtcHideLocalIpsWithMdns"),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil {
		cancelBrowser()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	return &Browser{ctx: bctx}
}

// Tab opens a tab in a fresh browser context: its own cookies, as a second
// person's browser would have.
func (b *Browser) Tab(t testing.TB) *Tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("open tab: %v", err)
	}
	t.Cleanup(cancel)
	return &Tab{Ctx: ctx, t: t}
}

// Tab is one page.
type Tab struct {
	Ctx context.Context
	t   testing.TB
}

// For returns the tab reporting to t (a subtest).
func (p *Tab) For(t testing.TB) *Tab { return &Tab{Ctx: p.Ctx, t: t} }

// Go navigates to url.
func (p *Tab) Go(url string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		p.t.Fatalf("navigate %s: %v", url, err)
	}
}

// Eval evaluates a JavaScript expression (awaiting a promise) and returns
// its value.
func Eval[T any](p *Tab, js string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", short(js), err)
	}
	return v
}

// Wait polls a JavaScript predicate until it is true, failing the test
// after within. It returns how long it waited.
func (p *Tab) Wait(js string, within time.Duration) time.Duration {
	p.t.Helper()
	start := time.Now()
	for {
		ctx, cancel := context.WithTimeout(p.Ctx, 10*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("Boolean("+js+")"))
		cancel()
		if err == nil && ok {
			return time.Since(start)
		}
		if time.Since(start) > within {
			p.Screenshot("timeout")
			p.t.Fatalf("waited %s for %s (last error: %v)", within, short(js), err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Key sends key presses to the focused element (e.g. "\t", "\r").
func (p *Tab) Key(keys string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.KeyEvent(keys)); err != nil {
		p.t.Fatalf("key event: %v", err)
	}
}

// Screenshot saves a PNG of the whole page as a test artifact, in
// VITALWIRE_ARTIFACTS (default: artifacts/ in the system's temporary
// folder), and returns its path.
func (p *Tab) Screenshot(name string) string {
	p.t.Helper()
	dir := os.Getenv("VITALWIRE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "vitalwire-artifacts")
	}
	ctx, cancel := context.WithTimeout(p.Ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	safe := strings.NewReplacer("/", "_", " ", "_").Replace(p.t.Name() + "-" + name)
	path := filepath.Join(dir, safe+".png")
	if err := os.MkdirAll(dir, 0o755); err == nil {
		if err := os.WriteFile(path, png, 0o644); err != nil {
			p.t.Logf("screenshot %s: %v", name, err)
		}
	}
	p.t.Logf("screenshot: %s", path)
	return path
}

func short(s string) string {
	if len(s) > 120 {
		return fmt.Sprintf("%s… (%d chars)", s[:120], len(s))
	}
	return s
}
