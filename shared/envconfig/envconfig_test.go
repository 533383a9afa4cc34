package envconfig

import (
	"strings"
	"testing"
	"time"
)

type Logging struct {
	Level string `env:"TEST_LEVEL" envDefault:"info" desc:"log level"`
}

type cfg struct {
	Logging
	Port    int           `env:"TEST_PORT" envDefault:"8080" desc:"listen port"`
	Wait    time.Duration `env:"TEST_WAIT" desc:"how long"`
	Token   string        `env:"TEST_TOKEN" secret:"true"`
	URL     string        `env:"TEST_URL" envDefault:"redis://:pw@host:6379/0"`
	Derived []byte        `env:"-"`
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		wantErr []string
	}{
		{"defaults", nil, nil},
		{"bad int names the variable", []string{"TEST_PORT=many"}, []string{"TEST_PORT: cannot parse"}},
		{"two bad values", []string{"TEST_PORT=x", "TEST_WAIT=soon"}, []string{"TEST_PORT", "TEST_WAIT"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.env, cfg{Wait: time.Second})
			if len(tc.wantErr) == 0 {
				if err != nil || c.Port != 8080 || c.Wait != time.Second || c.Level != "info" {
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

func TestParseOverridesPrefilledDefault(t *testing.T) {
	c, err := Parse([]string{"TEST_WAIT=3s"}, cfg{Wait: time.Second})
	if err != nil || c.Wait != 3*time.Second {
		t.Fatalf("Parse = %+v, %v", c, err)
	}
}

func TestVars(t *testing.T) {
	c, err := Parse([]string{"TEST_TOKEN=hunter2"}, cfg{Wait: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Var{}
	var order []string
	for _, v := range Vars(&c) {
		got[v.Name] = v
		order = append(order, v.Name)
	}
	if strings.Join(order, ",") != "TEST_LEVEL,TEST_PORT,TEST_WAIT,TEST_TOKEN,TEST_URL" {
		t.Fatalf("order %v", order)
	}
	tests := []struct{ name, def, value string }{
		{"TEST_LEVEL", "info", "info"},
		{"TEST_WAIT", "20s", "20s"},
		{"TEST_TOKEN", "***", "***"},
		{"TEST_URL", "redis://:xxxxx@host:6379/0", "redis://:xxxxx@host:6379/0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if v := got[tc.name]; v.Default != tc.def || v.Value != tc.value {
				t.Fatalf("%+v, want default %q value %q", v, tc.def, tc.value)
			}
		})
	}
	if got["TEST_PORT"].Desc != "listen port" {
		t.Fatalf("desc %+v", got["TEST_PORT"])
	}
}

func TestVarsListsAndURLLists(t *testing.T) {
	type clustered struct {
		Servers string   `env:"TEST_SERVERS"`
		Addrs   []string `env:"TEST_ADDRS" envSeparator:","`
	}
	c, err := Parse([]string{"TEST_SERVERS=nats://u:pw@a:4222,nats://u:pw@b:4222", "TEST_ADDRS=a:7000,b:7001"}, clustered{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, v := range Vars(&c) {
		got[v.Name] = v.Value
	}
	tests := []struct{ name, want string }{
		{"TEST_SERVERS", "nats://u:xxxxx@a:4222,nats://u:xxxxx@b:4222"},
		{"TEST_ADDRS", "a:7000,b:7001"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got[tc.name] != tc.want {
				t.Fatalf("%s = %q, want %q", tc.name, got[tc.name], tc.want)
			}
		})
	}
}
