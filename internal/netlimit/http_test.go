package netlimit_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/internal/netlimit"
)

func serveHTTP(t *testing.T, h http.Handler, readTimeout, write time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: netlimit.WriteProgress(h, write), ReadTimeout: readTimeout, ReadHeaderTimeout: readTimeout}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func TestALongResponseThatKeepsMovingOutlivesTheTimeouts(t *testing.T) {
	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			url := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.ReadAll(r.Body)
				for i := 0; i < 8; i++ {
					fmt.Fprintf(w, "part %d\n", i)
					w.(http.Flusher).Flush()
					time.Sleep(150 * time.Millisecond)
				}
				if r.Context().Err() != nil {
					fmt.Fprintln(w, "cancelled")
					return
				}
				fmt.Fprintln(w, "done")
			}), 300*time.Millisecond, 300*time.Millisecond)
			req, err := http.NewRequest(method, url, strings.NewReader("body"))
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.True(t, strings.HasSuffix(string(b), "done\n"), "the 1.2 s response ended: %q", b)
		})
	}
}

func TestAClientThatStopsReadingIsCutOff(t *testing.T) {
	failed := make(chan time.Duration, 1)
	url := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		chunk := make([]byte, 64<<10)
		for time.Since(start) < 10*time.Second {
			if _, err := w.Write(chunk); err != nil {
				failed <- time.Since(start)
				return
			}
		}
		failed <- 0
	}), time.Second, 300*time.Millisecond)
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	require.NoError(t, err)
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case d := <-failed:
		require.NotZero(t, d, "the handler wrote for 10 s to a client that reads nothing")
	case <-time.After(8 * time.Second):
		t.Fatal("the handler is still writing to a client that reads nothing")
	}
}
