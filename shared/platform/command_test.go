package platform_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/platform"
)

type exampleConfig struct {
	HTTPAddr string `env:"HTTP_ADDR" envDefault:":8080" desc:"listen address"`
	Token    string `env:"ADMIN_TOKEN" secret:"true" desc:"admin token"`
	platform.Config
}

func TestCommand(t *testing.T) {
	served := 0
	cmd := platform.Command{
		Name: "example", Summary: "does one thing", Version: "v1.2.3",
		Defaults: exampleConfig{Config: platform.Defaults(15 * time.Second)},
		Subcommands: []platform.Subcommand{{Name: "greet", Usage: "greet NAME\tsay hello",
			Run: func(_ context.Context, args []string, stdout, _ io.Writer) error {
				_, err := io.WriteString(stdout, "hello "+strings.Join(args, " "))
				return err
			}}},
		Serve: func(context.Context, []string, io.Writer) error { served++; return nil },
	}
	tests := []struct {
		name      string
		args      []string
		wantOut   []string
		wantErr   string
		wantServe int
	}{
		{"no arguments serve", nil, nil, "", 1},
		{"serve", []string{"serve"}, nil, "", 1},
		{"serve with arguments", []string{"serve", "now"}, nil, "serve takes no arguments", 0},
		{"-h", []string{"-h"}, []string{"example v1.2.3: does one thing", "HTTP_ADDR", ":8080", "listen address",
			"SHUTDOWN_TIMEOUT", "15s", "NATS_URL", "nats://127.0.0.1:4222", "LOG_FORMAT", "json", "greet NAME", "say hello"}, "", 0},
		{"--help", []string{"--help"}, []string{"NATS_PARTITIONS"}, "", 0},
		{"version", []string{"version"}, []string{"v1.2.3\n"}, "", 0},
		{"subcommand", []string{"greet", "you"}, []string{"hello you"}, "", 0},
		{"unknown", []string{"dance"}, nil, `unknown command "dance"`, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			served = 0
			var out bytes.Buffer
			err := cmd.Run(context.Background(), tc.args, nil, &out, &out)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if served != tc.wantServe {
				t.Fatalf("served %d times, want %d", served, tc.wantServe)
			}
		})
	}
}

func TestLoadValidatesTheSharedPartOnce(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		wantErr string
	}{
		{"defaults", nil, ""},
		{"bad nats url", []string{"NATS_URL=nowhere"}, "NATS_URL"},
		{"bad redis url", []string{"REDIS_URL=http://x"}, "REDIS_URL"},
		{"password not echoed", []string{"REDIS_URL=http://:pw@x"}, "xxxxx"},
		{"bad partitions", []string{"NATS_PARTITIONS=0"}, "NATS_PARTITIONS 0"},
		{"unparsable partitions", []string{"NATS_PARTITIONS=many"}, "NATS_PARTITIONS: cannot parse"},
		{"bad level", []string{"LOG_LEVEL=loud"}, "LOG_LEVEL"},
		{"bad format", []string{"LOG_FORMAT=xml"}, "LOG_FORMAT"},
		{"bad shutdown", []string{"SHUTDOWN_TIMEOUT=-1s"}, "SHUTDOWN_TIMEOUT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := platform.Load(tc.env, platform.Defaults(20*time.Second))
			if tc.wantErr == "" {
				if err != nil || c.ShutdownTimeout != 20*time.Second || c.Partitions != 16 || c.LogFormat != "json" {
					t.Fatalf("Load = %+v, %v", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), ":pw@") {
				t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}
