package local

import (
	"errors"
	"testing"

	"github.com/smsconv/smsconv/e2e/internal/stack"
)

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    func(c *Config)
		wantErr bool
	}{
		{name: "defaults", env: nil, want: func(*Config) {}},
		{name: "workers and ports", env: map[string]string{"WORKERS": "3", "INGRESS_PORT": "18080", "REDIS_PORT": " 16380 "},
			want: func(c *Config) { c.Workers, c.Ports.Ingress, c.Ports.Redis = 3, 18080, 16380 }},
		{name: "own servers", env: map[string]string{"NATS_URL": "nats://127.0.0.1:4222", "REDIS_URL": "redis://127.0.0.1:6379/0"},
			want: func(c *Config) { c.NATSURL, c.RedisURL = "nats://127.0.0.1:4222", "redis://127.0.0.1:6379/0" }},
		{name: "token", env: map[string]string{"ADMIN_TOKEN": "mine"}, want: func(c *Config) { c.AdminToken = "mine" }},
		{name: "zero workers", env: map[string]string{"WORKERS": "0"}, wantErr: true},
		{name: "not a number", env: map[string]string{"NATS_PORT": "x"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromEnv("/repo", func(k string) string { return tt.env[k] })
			if tt.wantErr {
				if !errors.Is(err, ErrConfig) {
					t.Fatalf("err = %v, want ErrConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := Defaults("/repo")
			tt.want(&want)
			if got != want {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestDefaultsAreTheDocumentedOnes pins what the README promises for make run.
func TestDefaultsAreTheDocumentedOnes(t *testing.T) {
	c := Defaults("/repo")
	want := stack.Ports{NATS: 4223, NATSMonitor: 8223, Redis: 6380, Ingress: 8080, Sandbox: 8090, WorkerMetrics: 9091}
	if c.Ports != want || c.Workers != 1 || c.Dir != "/repo/.run" || c.AdminToken != stack.DevAdminToken {
		t.Errorf("defaults %+v", c)
	}
}
