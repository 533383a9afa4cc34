package config

import (
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"defaults with key", map[string]string{"TELNYX_API_KEY": "k"}, ""},
		{"missing key", map[string]string{}, "TELNYX_API_KEY is required"},
		{"bad api url", map[string]string{"TELNYX_API_KEY": "k", "TELNYX_API_URL": "ftp://x"}, "TELNYX_API_URL"},
		{"bad redis url", map[string]string{"TELNYX_API_KEY": "k", "REDIS_URL": "localhost:6379"}, "REDIS_URL"},
		{"bad phone", map[string]string{"TELNYX_API_KEY": "k", "TELNYX_PHONE_NUMBER": "555"}, "TELNYX_PHONE_NUMBER"},
		{"bad partitions", map[string]string{"TELNYX_API_KEY": "k", "NATS_PARTITIONS": "0"}, "NATS_PARTITIONS"},
		{"unparsable duration", map[string]string{"TELNYX_API_KEY": "k", "WORKER_ACK_WAIT": "soon"}, "WORKER_ACK_WAIT"},
		{"short ack wait", map[string]string{"TELNYX_API_KEY": "k", "WORKER_ACK_WAIT": "1s"}, "WORKER_ACK_WAIT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c, err := Load()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if c.Partitions != 16 || c.WorkerID == "" || c.TelnyxAPIURL != "https://api.telnyx.com/v2" {
					t.Fatalf("defaults not applied: %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Load err = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}
