package envconfig

import (
	"strings"
	"testing"
	"time"
)

type cfg struct {
	Port  int           `env:"TEST_PORT" envDefault:"8080"`
	Wait  time.Duration `env:"TEST_WAIT" envDefault:"1s"`
	Token string        `env:"TEST_TOKEN"`
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr []string
	}{
		{"defaults", nil, nil},
		{"bad int names the variable", map[string]string{"TEST_PORT": "many"}, []string{"TEST_PORT: cannot parse"}},
		{"two bad values", map[string]string{"TEST_PORT": "x", "TEST_WAIT": "soon"}, []string{"TEST_PORT", "TEST_WAIT"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c, err := Parse[cfg]()
			if len(tc.wantErr) == 0 {
				if err != nil || c.Port != 8080 || c.Wait != time.Second {
					t.Fatalf("Parse = %+v, %v", c, err)
				}
				return
			}
			for _, want := range tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("err = %v, want it to mention %q", err, want)
				}
			}
		})
	}
}
