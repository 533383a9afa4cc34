// Package webphone is the sandbox's web phone: a page at / that acts as a user's phone. Typing a message posts
// it to /sandbox/inbound, which signs a real message.received webhook for the ingress; the replies the
// workers send to the fake Telnyx appear in the chat with the delivery receipts the sandbox reported.
package webphone

import (
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"net/http"

	"github.com/smsconv/smsconv/services/sandbox/internal/simulator"
)

//go:embed static
var staticFS embed.FS

// csp: the page's own script and style only, and requests to the sandbox itself.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

var page = template.Must(template.ParseFS(staticFS, "static/phone.html"))

// Register adds the page (GET /), its assets (GET /phone/) and the chat feed (GET /sandbox/chat) to mux.
func Register(mux *http.ServeMux, sim *simulator.Simulator) {
	static, _ := fs.Sub(staticFS, "static")
	assets := http.StripPrefix("/phone/", http.FileServerFS(static))
	mux.Handle("GET /phone/", headers(assets))
	mux.Handle("GET /{$}", headers(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		our, user := sim.Numbers()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = page.Execute(w, struct{ Our, User string }{our, user})
	})))
	mux.HandleFunc("GET /sandbox/chat", func(w http.ResponseWriter, r *http.Request) {
		our, user := sim.Numbers()
		if v := r.URL.Query().Get("our"); v != "" {
			our = v
		}
		if v := r.URL.Query().Get("user"); v != "" {
			user = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(sim.Chat(our, user))
	})
}

func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}
