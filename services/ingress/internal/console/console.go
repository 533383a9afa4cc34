// Package console is the operator console the ingress serves at /console: server-rendered pages
// (html/template, assets embedded with go:embed, a little plain JavaScript) over the same store and queue as
// the API. An operator signs in with the admin token, which is exchanged for a signed session cookie; every
// state-changing form carries a CSRF token bound to the session; every page is served under a strict
// Content-Security-Policy. Live updates are Server-Sent Events fed from the changes the services announce on
// NATS (events.ChangesSubject).
package console

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsconv/smsconv/shared/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// csp allows only the console's own scripts, styles and connections; images may also come over HTTPS
// (MMS media is hosted by Telnyx). No inline script or style, no frames, forms post only to the console.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Deps are what the console reads and changes.
type Deps struct {
	Store *store.Store
	NC    *nats.Conn
	JS    jetstream.JetStream
	Log   *slog.Logger
	// AdminToken is the sign-in secret; empty disables the console as it disables the API.
	AdminToken string
	// DefaultOur is TELNYX_PHONE_NUMBER: the our-number of a thread whose URL names none.
	DefaultOur string
	// Now is the clock (tests).
	Now func() time.Time
}

// Console serves the pages.
type Console struct {
	d     Deps
	keys  keys
	pages map[string]*template.Template
	live  *hub
	glass *glance
}

// New builds the console; Close releases its subscriptions and ends live streams.
func New(d Deps) (*Console, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	c := &Console{d: d, keys: newKeys(d.AdminToken), pages: map[string]*template.Template{}}
	funcs := template.FuncMap{"time": fmtTime, "clock": fmtClock, "statusClass": statusClass,
		"isImage": isImage, "isOperator": isOperator, "query": c.query, "threadURL": threadURL, "actionURL": actionURL,
		"key": func(our, user string) store.Key { return store.Key{Our: our, User: user} }}
	for _, name := range []string{"login", "list", "thread", "deadletters", "error"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		c.pages[name] = t
	}
	c.live = newHub(d.Store, d.Log, d.NC)
	c.glass = newGlance(d.NC, d.JS, d.Log, d.Now)
	return c, nil
}

// Start begins sampling the at-a-glance figures until ctx ends.
func (c *Console) Start(ctx context.Context) { go c.glass.run(ctx) }

// Close ends every live stream (so a graceful shutdown is not held up by them) and unsubscribes.
func (c *Console) Close() { c.live.close() }

// Register adds the console's routes to e under /console.
func (c *Console) Register(e *echo.Echo) {
	static, _ := fs.Sub(staticFS, "static")
	g := e.Group("/console", c.secure)
	g.GET("/static/*", echo.WrapHandler(http.StripPrefix("/console/static/", cacheStatic(http.FileServerFS(static)))))
	g.GET("/login", c.loginPage)
	g.POST("/login", c.login)
	auth := g.Group("", c.requireSession)
	auth.GET("", c.list)
	auth.GET("/", c.list)
	auth.GET("/conversations/:phone", c.thread)
	auth.GET("/events", c.events)
	auth.GET("/glance", c.glanceFragment)
	auth.GET("/dead-letters", c.deadLetters)
	post := auth.Group("", c.requireCSRF)
	post.POST("/logout", c.logout)
	post.POST("/dead-letters/:id/replay", c.replay)
	post.POST("/conversations/:phone/takeover", c.takeOver)
	post.POST("/conversations/:phone/handback", c.handBack)
	post.POST("/conversations/:phone/send", c.send)
}

// secure sets the headers every console response carries, and refuses the console without ADMIN_TOKEN.
func (c *Console) secure(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ctx echo.Context) error {
		h := ctx.Response().Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(ctx.Request().URL.Path, "/console/static/") {
			h.Set("Cache-Control", "no-store")
		}
		if c.d.AdminToken == "" {
			return c.render(ctx, http.StatusForbidden, "error", pageData{Title: "Console disabled",
				Error: "The console is disabled: set ADMIN_TOKEN to enable it."})
		}
		return next(ctx)
	}
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// sessionKey is where requireSession leaves the session in the Echo context.
const sessionKey = "console.session"

// requireSession lets a request through with a valid, unrevoked session; pages redirect to sign-in, other
// requests are refused with 401.
func (c *Console) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ctx echo.Context) error {
		s, err := c.session(ctx)
		if err != nil {
			if ctx.Request().Method == http.MethodGet && ctx.Request().Header.Get("Accept") != "text/event-stream" {
				return ctx.Redirect(http.StatusSeeOther, "/console/login")
			}
			return c.render(ctx, http.StatusUnauthorized, "error", pageData{Title: "Signed out", Error: "Sign in first."})
		}
		ctx.Set(sessionKey, s)
		return next(ctx)
	}
}

func (c *Console) session(ctx echo.Context) (session, error) {
	ck, err := ctx.Cookie(cookieName)
	if err != nil {
		return session{}, errSession
	}
	s, err := c.keys.parse(ck.Value, c.d.Now())
	if err != nil {
		return session{}, err
	}
	revoked, err := c.d.Store.SessionRevoked(ctx.Request().Context(), s.ID)
	if err != nil || revoked {
		// Redis down: refuse rather than let a signed-out cookie back in.
		return session{}, errSession
	}
	return s, nil
}

// requireCSRF refuses a state-changing request without the session's CSRF token, or sent from another
// origin (defence in depth: the cookie is SameSite=Strict too).
func (c *Console) requireCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ctx echo.Context) error {
		s, _ := ctx.Get(sessionKey).(session)
		if !sameOrigin(ctx.Request()) || !c.keys.csrfOK(s, ctx.FormValue("csrf")) {
			return c.render(ctx, http.StatusForbidden, "error", pageData{Title: "Refused",
				Error: "This form has expired or did not come from the console. Reload the page and try again."})
		}
		return next(ctx)
	}
}

// sameOrigin is false when the browser says the request came from another site.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		return err == nil && u.Host == r.Host
	}
	return true
}

func (c *Console) loginPage(ctx echo.Context) error {
	if _, err := c.session(ctx); err == nil {
		return ctx.Redirect(http.StatusSeeOther, "/console")
	}
	return c.render(ctx, http.StatusOK, "login", pageData{Title: "Sign in"})
}

// login exchanges the admin token (posted in the form body, never in a URL) for a session cookie.
func (c *Console) login(ctx echo.Context) error {
	if !sameOrigin(ctx.Request()) {
		return c.render(ctx, http.StatusForbidden, "login", pageData{Title: "Sign in", Error: "Sign in from the console's own page."})
	}
	if !c.keys.tokenOK(ctx.FormValue("token")) {
		c.d.Log.Info("console sign-in refused", "component", "console")
		return c.render(ctx, http.StatusUnauthorized, "login", pageData{Title: "Sign in", Error: "That is not the admin token."})
	}
	s, value := c.keys.newSession(c.d.Now())
	ctx.SetCookie(c.cookie(ctx, value, s.Expires))
	c.d.Log.Info("console sign-in", "component", "console")
	return ctx.Redirect(http.StatusSeeOther, "/console")
}

func (c *Console) cookie(ctx echo.Context, value string, expires time.Time) *http.Cookie {
	// Secure follows the scheme: the console must also work on plain http://localhost in the sandbox.
	return &http.Cookie{ //nolint:gosec // G124: HttpOnly and SameSite=Strict always; Secure over TLS
		Name: cookieName, Value: value, Path: "/console", Expires: expires,
		MaxAge: int(time.Until(expires).Seconds()), HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: ctx.Scheme() == "https"}
}

// logout revokes the session everywhere and clears the cookie.
func (c *Console) logout(ctx echo.Context) error {
	s, _ := ctx.Get(sessionKey).(session)
	if err := c.d.Store.RevokeSession(ctx.Request().Context(), s.ID, s.Expires); err != nil {
		return c.render(ctx, http.StatusServiceUnavailable, "error", pageData{Title: "Not signed out",
			Error: "The store is unavailable, so the session could not be revoked. Try again."})
	}
	ck := c.cookie(ctx, "", time.Unix(0, 0)) //nolint:gosec // G124: c.cookie sets HttpOnly, SameSite=Strict, and Secure over TLS
	ck.MaxAge = -1
	ctx.SetCookie(ck)
	return ctx.Redirect(http.StatusSeeOther, "/console/login")
}

// pageData is what every template gets.
type pageData struct {
	Title string
	Error string
	Flash string
	CSRF  string
	Nav   string
	Data  any
}

func (c *Console) render(ctx echo.Context, status int, page string, d pageData) error {
	if s, ok := ctx.Get(sessionKey).(session); ok {
		d.CSRF = c.keys.csrfToken(s)
	}
	var b strings.Builder
	name, data := "layout.html", any(d)
	if frag := ctx.QueryParam("fragment"); fragments[frag] && c.pages[page].Lookup(frag) != nil {
		name, data = frag, d.Data // a live update asks for one part of the page
	}
	if err := c.pages[page].ExecuteTemplate(&b, name, data); err != nil {
		return err
	}
	return ctx.HTML(status, b.String())
}

// fragments are the parts of pages that live updates fetch alone.
var fragments = map[string]bool{"rows": true, "glance": true, "messages": true, "facts": true}

// storeDown answers a page that could not be read.
func (c *Console) storeDown(ctx echo.Context, err error) error {
	c.d.Log.Warn("console page unavailable", "component", "console", "route", ctx.Path(), "err", err)
	return c.render(ctx, http.StatusServiceUnavailable, "error", pageData{Title: "Unavailable",
		Error: "The store or the queue is unavailable. Try again in a moment."})
}
