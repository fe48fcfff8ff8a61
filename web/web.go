// Package web is the browser UI: the care team's dashboard, the patient
// pages and the admin pages. The files are embedded in the binary and
// served as they are; they load nothing from outside the server.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var files embed.FS

// Handler serves the UI. The pages are a single document (index.html) that
// routes on the URL's fragment; every other path is a static asset.
func Handler() http.Handler {
	sub, _ := fs.Sub(files, "static")
	fileServer := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The pages talk only to this server and run only our scripts.
		w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:; "+
			"style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("X-Frame-Options", "DENY")
		fileServer.ServeHTTP(w, r)
	})
}
