package obs_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/smsconv/smsconv/shared/obs"
)

func TestHandlerServesRegistry(t *testing.T) {
	reg := obs.NewRegistry()
	redisErrors := obs.NewRedisErrors()
	reg.MustRegister(redisErrors)
	redisErrors.WithLabelValues("get").Inc()
	srv := httptest.NewServer(obs.Handler(reg))
	defer srv.Close()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	for _, want := range []string{`smsconv_redis_errors_total{op="get"} 1`, "go_goroutines ", "process_cpu_seconds_total "} {
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}
