// Package telnyxtest runs the fake Telnyx API (package fakeapi) on an httptest server for the duration of a
// test. The fake itself lives in fakeapi because the sandbox ships it.
package telnyxtest

import (
	"net/http/httptest"
	"testing"

	"github.com/smsconv/smsconv/shared/telnyx/fakeapi"
)

// Server is a fakeapi.Fake listening on a real HTTP server for the duration of a test.
type Server struct {
	*fakeapi.Fake
	// URL is the server's root, e.g. http://127.0.0.1:41234.
	URL string
}

// NewServer starts an httptest.Server serving a new fake and closes it when the test ends.
func NewServer(tb testing.TB, o fakeapi.Options) *Server {
	tb.Helper()
	f := fakeapi.NewFake(o)
	srv := httptest.NewServer(f)
	tb.Cleanup(srv.Close)
	return &Server{Fake: f, URL: srv.URL}
}

// BaseURL returns the API base URL to configure a client with, as https://api.telnyx.com/v2 is for Telnyx.
func (s *Server) BaseURL() string { return s.URL + "/v2" }
