package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/envconfig"
)

const testSeed = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=" // RFC 8032 test 1 seed

func TestLoadDefaults(t *testing.T) {
	cfg, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Addr: ":8090", FailureStatus: 500, IngressWebhookURL: "http://127.0.0.1:8080/webhooks/sms",
		PhoneNumber: "+12125550100", UserNumber: "+13125550123", Receipts: true, ReceiptDelay: 200 * time.Millisecond,
		WebhookTimeout: 2 * time.Second, ShutdownTimeout: 10 * time.Second}
	want.LogLevel, want.LogFormat = "info", "text"
	if cfg.Addr != want.Addr || cfg.FailureStatus != want.FailureStatus || cfg.IngressWebhookURL != want.IngressWebhookURL ||
		cfg.PhoneNumber != want.PhoneNumber || cfg.UserNumber != want.UserNumber || cfg.Receipts != want.Receipts ||
		cfg.ReceiptDelay != want.ReceiptDelay || cfg.WebhookTimeout != want.WebhookTimeout ||
		cfg.ShutdownTimeout != want.ShutdownTimeout || cfg.LogLevel != want.LogLevel || cfg.LogFormat != want.LogFormat ||
		cfg.Seed != nil || cfg.Latency != 0 || cfg.FailureRate != 0 {
		t.Fatalf("Load(nil) = %+v", cfg)
	}
}

func TestLoadValues(t *testing.T) {
	cfg, err := Load([]string{"SANDBOX_ADDR=127.0.0.1:9000", "SANDBOX_API_KEY=KEY123", "SANDBOX_LATENCY=200ms",
		"SANDBOX_FAILURE_RATE=0.25", "SANDBOX_FAILURE_STATUS=429", "SANDBOX_PRIVATE_KEY=" + testSeed,
		"SANDBOX_RECEIPTS=false", "TELNYX_PHONE_NUMBER=+15557770000", "LOG_LEVEL=debug", "LOG_FORMAT=json"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:9000" || cfg.APIKey != "KEY123" || cfg.Latency != 200*time.Millisecond ||
		cfg.FailureRate != 0.25 || cfg.FailureStatus != 429 || len(cfg.Seed) != 32 || cfg.Receipts ||
		cfg.PhoneNumber != "+15557770000" || cfg.LogLevel != "debug" || cfg.LogFormat != "json" {
		t.Fatalf("Load = %+v", cfg)
	}
}

func TestLoadInvalid(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		wantVar string
	}{
		{"latency not a duration", "SANDBOX_LATENCY=soon", "SANDBOX_LATENCY"},
		{"latency negative", "SANDBOX_LATENCY=-1s", "SANDBOX_LATENCY"},
		{"rate not a number", "SANDBOX_FAILURE_RATE=half", "SANDBOX_FAILURE_RATE"},
		{"rate above 1", "SANDBOX_FAILURE_RATE=1.5", "SANDBOX_FAILURE_RATE"},
		{"status not an error", "SANDBOX_FAILURE_STATUS=200", "SANDBOX_FAILURE_STATUS"},
		{"key not base64", "SANDBOX_PRIVATE_KEY=not-base64!", "SANDBOX_PRIVATE_KEY"},
		{"key wrong length", "SANDBOX_PRIVATE_KEY=AAAA", "SANDBOX_PRIVATE_KEY"},
		{"ingress url", "INGRESS_WEBHOOK_URL=ingress:8080", "INGRESS_WEBHOOK_URL"},
		{"our number", "TELNYX_PHONE_NUMBER=5550001000", "TELNYX_PHONE_NUMBER"},
		{"user number", "SANDBOX_USER_NUMBER=+1", "SANDBOX_USER_NUMBER"},
		{"receipts not bool", "SANDBOX_RECEIPTS=maybe", "SANDBOX_RECEIPTS"},
		{"log level", "LOG_LEVEL=loud", "LOG_LEVEL"},
		{"log format", "LOG_FORMAT=xml", "LOG_FORMAT"},
		{"webhook timeout", "SANDBOX_WEBHOOK_TIMEOUT=0s", "SANDBOX_WEBHOOK_TIMEOUT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]string{tc.env})
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.wantVar) {
				t.Fatalf("Load(%s) err = %v, want ErrInvalid naming %s", tc.env, err, tc.wantVar)
			}
		})
	}
}

func TestSecretsAreMasked(t *testing.T) {
	cfg, err := Load([]string{"SANDBOX_API_KEY=KEY_secret", "SANDBOX_PRIVATE_KEY=" + testSeed})
	if err != nil {
		t.Fatal(err)
	}
	masked := 0
	for _, v := range envconfig.Vars(cfg) {
		if strings.Contains(v.Value, "KEY_secret") || strings.Contains(v.Value, testSeed) {
			t.Fatalf("secret in the configuration dump: %+v", v)
		}
		if v.Value == "***" {
			masked++
		}
	}
	if masked != 2 {
		t.Fatalf("%d values masked, want SANDBOX_API_KEY and SANDBOX_PRIVATE_KEY", masked)
	}
}
