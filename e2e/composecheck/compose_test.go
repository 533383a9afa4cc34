package composecheck_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"

	"github.com/smsconv/smsconv/shared/phone"
	"github.com/smsconv/smsconv/shared/telnyx/fakeapi"
)

// appServices are built from deploy/Dockerfile; the build target is the service name.
var appServices = []string{"ingress", "worker", "sandbox"}

// containerPort is the port each service listens on inside the compose network.
var containerPort = map[string]int{
	"nats":    4222,
	"redis":   6379,
	"ingress": 8080,
	"sandbox": 8090,
}

// repoRoot walks up from the test's directory to the directory holding go.work.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatalf("getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("no go.work above the test directory: run the test inside the repository")
		}
		dir = parent
	}
}

type loadConfig struct {
	env      map[string]string
	envFiles []string
	profiles []string
}

// loadProject loads docker-compose.yml as `docker compose` would from the repository root. Only the given
// variables are visible to interpolation (never the caller's environment), so the defaults are what is tested.
func loadProject(tb testing.TB, lc loadConfig) *types.Project {
	tb.Helper()
	root := repoRoot(tb)
	env := make([]string, 0, len(lc.env))
	for k, v := range lc.env {
		env = append(env, k+"="+v)
	}
	opts := []cli.ProjectOptionsFn{
		cli.WithWorkingDirectory(root),
		cli.WithEnv(env),
		cli.WithProfiles(lc.profiles),
	}
	if len(lc.envFiles) > 0 {
		opts = append(opts, cli.WithEnvFiles(lc.envFiles...), cli.WithDotEnv)
	}
	po, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")}, opts...)
	if err != nil {
		tb.Fatalf("compose options: %v", err)
	}
	p, err := po.LoadProject(context.Background())
	if err != nil {
		tb.Fatalf("load docker-compose.yml: %v", err)
	}
	return p
}

func service(tb testing.TB, p *types.Project, name string) types.ServiceConfig {
	tb.Helper()
	s, ok := p.Services[name]
	if !ok {
		tb.Fatalf("docker-compose.yml has no service %q (services: %v)", name, p.ServiceNames())
	}
	return s
}

func envValue(tb testing.TB, s types.ServiceConfig, key string) string {
	tb.Helper()
	v, ok := s.Environment[key]
	if !ok || v == nil || *v == "" {
		tb.Fatalf("service %s: environment %s is not set", s.Name, key)
	}
	return *v
}

func addrPort(tb testing.TB, addr string) int {
	tb.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		tb.Fatalf("listen address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		tb.Fatalf("listen address %q: port %q is not a number", addr, p)
	}
	return n
}

func volumeAt(s types.ServiceConfig, target string) (types.ServiceVolumeConfig, bool) {
	for _, v := range s.Volumes {
		if v.Target == target {
			return v, true
		}
	}
	return types.ServiceVolumeConfig{}, false
}

func TestServicesImagesAndRestart(t *testing.T) {
	p := loadProject(t, loadConfig{})
	tests := []struct {
		name        string
		imagePrefix string // for services that run an official image
		buildTarget string // for services built from deploy/Dockerfile
	}{
		{name: "nats", imagePrefix: "nats:"},
		{name: "redis", imagePrefix: "redis:"},
		{name: "ingress", buildTarget: "ingress"},
		{name: "worker", buildTarget: "worker"},
		{name: "sandbox", buildTarget: "sandbox"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := service(t, p, tt.name)
			if s.Restart != types.RestartPolicyUnlessStopped {
				t.Errorf("restart = %q, want %q", s.Restart, types.RestartPolicyUnlessStopped)
			}
			if tt.imagePrefix != "" {
				if !strings.HasPrefix(s.Image, tt.imagePrefix) {
					t.Errorf("image = %q, want %s*", s.Image, tt.imagePrefix)
				}
				if s.Build != nil {
					t.Errorf("has a build section; the official image is expected")
				}
				return
			}
			if s.Build == nil {
				t.Fatalf("no build section: want deploy/Dockerfile target %q", tt.buildTarget)
			}
			if got, want := filepath.Clean(s.Build.Context), p.WorkingDir; got != want {
				t.Errorf("build context = %q, want the repository root %q (shared/ must be in the context)", got, want)
			}
			if got := filepath.ToSlash(s.Build.Dockerfile); got != "deploy/Dockerfile" {
				t.Errorf("build dockerfile = %q, want deploy/Dockerfile", got)
			}
			if s.Build.Target != tt.buildTarget {
				t.Errorf("build target = %q, want %q", s.Build.Target, tt.buildTarget)
			}
			if v := s.Build.Args["VERSION"]; v == nil || *v == "" {
				t.Errorf("build arg VERSION is not passed (it is stamped into main.version)")
			}
		})
	}
}

func TestNATSJetStreamWithVolumeAndHealthcheck(t *testing.T) {
	s := service(t, loadProject(t, loadConfig{}), "nats")
	m := regexp.MustCompile(`^nats:(\d+)\.(\d+)(\.\d+)?-alpine$`).FindStringSubmatch(s.Image)
	if m == nil {
		t.Fatalf("image = %q, want nats:<major>.<minor>[.<patch>]-alpine", s.Image)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	if major != 2 || minor < 11 {
		t.Errorf("image = %q, want NATS 2.11 or newer 2.x (pinned priority groups)", s.Image)
	}
	cmd := []string(s.Command)
	if !slices.Contains(cmd, "-js") && !slices.Contains(cmd, "--jetstream") {
		t.Errorf("command %q does not enable JetStream (-js)", cmd)
	}
	i := slices.Index(cmd, "-sd")
	if i < 0 || i+1 >= len(cmd) {
		t.Fatalf("command %q sets no JetStream store directory (-sd DIR)", cmd)
	}
	storeDir := cmd[i+1]
	if v, ok := volumeAt(s, storeDir); !ok || v.Source == "" {
		t.Errorf("store directory %s is not on a volume: streams would be lost with the container", storeDir)
	}
	if !slices.Contains(cmd, "-m") {
		t.Errorf("command %q does not enable the monitoring port (-m 8222) its healthcheck needs", cmd)
	}
	checkHealthcheck(t, s, "8222/healthz")
}

func TestRedisAppendOnlyWithVolumeAndHealthcheck(t *testing.T) {
	s := service(t, loadProject(t, loadConfig{}), "redis")
	if !strings.HasPrefix(s.Image, "redis:7") {
		t.Errorf("image = %q, want redis:7*", s.Image)
	}
	cmd := strings.Join(s.Command, " ")
	if !strings.Contains(cmd, "--appendonly yes") {
		t.Errorf("command %q does not turn on the append-only file", cmd)
	}
	if !regexp.MustCompile(`--appendfsync (everysec|always)`).MatchString(cmd) {
		t.Errorf("command %q: want --appendfsync everysec or always", cmd)
	}
	if v, ok := volumeAt(s, "/data"); !ok || v.Source == "" {
		t.Errorf("/data is not on a volume: conversation state would be lost with the container")
	}
	checkHealthcheck(t, s, "redis-cli ping")
}

func checkHealthcheck(tb testing.TB, s types.ServiceConfig, want string) {
	tb.Helper()
	if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0 {
		tb.Errorf("service %s has no healthcheck; the app services wait for it with service_healthy", s.Name)
		return
	}
	if got := strings.Join(s.HealthCheck.Test, " "); !strings.Contains(got, want) {
		tb.Errorf("service %s healthcheck = %q, want it to run %q", s.Name, got, want)
	}
}

func TestWorkerIsScalable(t *testing.T) {
	s := service(t, loadProject(t, loadConfig{}), "worker")
	if s.ContainerName != "" {
		t.Errorf("container_name = %q: a fixed name forbids --scale worker=N", s.ContainerName)
	}
	if len(s.Ports) > 0 {
		t.Errorf("ports = %+v: a published host port forbids --scale worker=N", s.Ports)
	}
	for _, v := range s.Volumes {
		if !v.ReadOnly && v.Type == types.VolumeTypeBind {
			t.Errorf("bind mount %s -> %s is writable: replicas would share it", v.Source, v.Target)
		}
	}
}

func TestDependsOnHealthyBackends(t *testing.T) {
	p := loadProject(t, loadConfig{})
	for _, name := range []string{"ingress", "worker"} {
		for _, dep := range []string{"nats", "redis"} {
			t.Run(name+"->"+dep, func(t *testing.T) {
				d, ok := service(t, p, name).DependsOn[dep]
				if !ok {
					t.Fatalf("%s does not depend on %s", name, dep)
				}
				if d.Condition != types.ServiceConditionHealthy {
					t.Errorf("%s depends on %s with condition %q, want %q", name, dep, d.Condition, types.ServiceConditionHealthy)
				}
			})
		}
	}
}

func TestPublishedPorts(t *testing.T) {
	p := loadProject(t, loadConfig{})
	tests := []struct {
		service string
		addrEnv string // the variable that sets the listen address inside the container
		port    int
	}{
		{service: "ingress", addrEnv: "HTTP_ADDR", port: 8080},
		{service: "sandbox", addrEnv: "SANDBOX_ADDR", port: 8090},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			s := service(t, p, tt.service)
			if got := addrPort(t, envValue(t, s, tt.addrEnv)); got != tt.port {
				t.Errorf("%s = %d, want %d", tt.addrEnv, got, tt.port)
			}
			published := false
			for _, pc := range s.Ports {
				if int(pc.Target) == tt.port && pc.Published == strconv.Itoa(tt.port) {
					published = true
				}
			}
			if !published {
				t.Errorf("ports = %+v, want %d:%d", s.Ports, tt.port, tt.port)
			}
		})
	}
}

func TestURLsPointAtServicesInTheFile(t *testing.T) {
	p := loadProject(t, loadConfig{})
	tests := []struct {
		service, key, scheme, target string
	}{
		{"ingress", "NATS_URL", "nats", "nats"},
		{"ingress", "REDIS_URL", "redis", "redis"},
		{"worker", "NATS_URL", "nats", "nats"},
		{"worker", "REDIS_URL", "redis", "redis"},
		{"worker", "TELNYX_API_URL", "http", "sandbox"},
		{"ingress", "TELNYX_API_URL", "http", "sandbox"}, // or it refuses the development key
		{"sandbox", "INGRESS_WEBHOOK_URL", "http", "ingress"},
	}
	for _, tt := range tests {
		t.Run(tt.service+"/"+tt.key, func(t *testing.T) {
			raw := envValue(t, service(t, p, tt.service), tt.key)
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatalf("%s = %q: %v", tt.key, raw, err)
			}
			if u.Scheme != tt.scheme {
				t.Errorf("%s = %q: scheme %q, want %q", tt.key, raw, u.Scheme, tt.scheme)
			}
			if _, ok := p.Services[u.Hostname()]; !ok {
				t.Fatalf("%s = %q: host %q is not a service of docker-compose.yml (%v)", tt.key, raw, u.Hostname(), p.ServiceNames())
			}
			if u.Hostname() != tt.target {
				t.Errorf("%s = %q: host %q, want service %q", tt.key, raw, u.Hostname(), tt.target)
			}
			if got, want := u.Port(), strconv.Itoa(containerPort[tt.target]); got != want {
				t.Errorf("%s = %q: port %q, want %s (where %s listens)", tt.key, raw, got, want, tt.target)
			}
		})
	}
	t.Run("TELNYX_API_URL path", func(t *testing.T) {
		if raw := envValue(t, service(t, p, "worker"), "TELNYX_API_URL"); !strings.HasSuffix(raw, "/v2") {
			t.Errorf("TELNYX_API_URL = %q: want the /v2 base like https://api.telnyx.com/v2", raw)
		}
	})
	t.Run("INGRESS_WEBHOOK_URL path", func(t *testing.T) {
		u, err := url.Parse(envValue(t, service(t, p, "sandbox"), "INGRESS_WEBHOOK_URL"))
		if err != nil || u.Path != "/webhooks/sms" {
			t.Errorf("INGRESS_WEBHOOK_URL path = %q (err %v), want /webhooks/sms", u.Path, err)
		}
	})
}

func TestRequiredSettings(t *testing.T) {
	p := loadProject(t, loadConfig{})
	tests := []struct {
		service string
		keys    []string
	}{
		{"ingress", []string{"NATS_URL", "REDIS_URL", "TELNYX_PUBLIC_KEY", "TELNYX_PHONE_NUMBER", "TELNYX_API_URL", "ADMIN_TOKEN", "NATS_PARTITIONS"}},
		{"worker", []string{"NATS_URL", "REDIS_URL", "TELNYX_API_KEY", "TELNYX_API_URL", "TELNYX_PHONE_NUMBER", "METRICS_ADDR", "NATS_PARTITIONS"}},
		{"sandbox", []string{"SANDBOX_PRIVATE_KEY", "INGRESS_WEBHOOK_URL", "TELNYX_PHONE_NUMBER"}},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			s := service(t, p, tt.service)
			for _, k := range tt.keys {
				envValue(t, s, k)
			}
			if got, err := phone.ParseE164(envValue(t, s, "TELNYX_PHONE_NUMBER")); err != nil {
				t.Errorf("TELNYX_PHONE_NUMBER: %v", err)
			} else if got != *s.Environment["TELNYX_PHONE_NUMBER"] {
				t.Errorf("TELNYX_PHONE_NUMBER = %q is not in normal E.164 form %q", *s.Environment["TELNYX_PHONE_NUMBER"], got)
			}
		})
	}
	t.Run("same number everywhere", func(t *testing.T) {
		want := envValue(t, service(t, p, "ingress"), "TELNYX_PHONE_NUMBER")
		for _, name := range appServices {
			if got := envValue(t, service(t, p, name), "TELNYX_PHONE_NUMBER"); got != want {
				t.Errorf("%s TELNYX_PHONE_NUMBER = %q, ingress has %q", name, got, want)
			}
		}
	})
	t.Run("partitions agree", func(t *testing.T) {
		in := envValue(t, service(t, p, "ingress"), "NATS_PARTITIONS")
		wk := envValue(t, service(t, p, "worker"), "NATS_PARTITIONS")
		if in != wk {
			t.Fatalf("NATS_PARTITIONS: ingress %q, worker %q; they must be equal", in, wk)
		}
		if n, err := strconv.Atoi(in); err != nil || n < 1 || n > 1024 {
			t.Errorf("NATS_PARTITIONS = %q, want 1..1024", in)
		}
	})
	t.Run("worker metrics port", func(t *testing.T) {
		if got := addrPort(t, envValue(t, service(t, p, "worker"), "METRICS_ADDR")); got != 9090 {
			t.Errorf("worker METRICS_ADDR port = %d, want 9090 (deploy/prometheus.yml scrapes it)", got)
		}
	})
}

func TestSandboxKeySignsForTheIngress(t *testing.T) {
	p := loadProject(t, loadConfig{})
	seedB64 := envValue(t, service(t, p, "sandbox"), "SANDBOX_PRIVATE_KEY")
	seed, err := base64.StdEncoding.DecodeString(seedB64)
	if err != nil {
		t.Fatalf("SANDBOX_PRIVATE_KEY = %q is not standard base64: %v", seedB64, err)
	}
	if len(seed) != ed25519.SeedSize {
		t.Fatalf("SANDBOX_PRIVATE_KEY decodes to %d bytes, want a %d-byte Ed25519 seed", len(seed), ed25519.SeedSize)
	}
	pub, ok := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	if !ok {
		t.Fatalf("ed25519 public key has an unexpected type")
	}
	want := base64.StdEncoding.EncodeToString(pub)
	if got := envValue(t, service(t, p, "ingress"), "TELNYX_PUBLIC_KEY"); got != want {
		t.Errorf("ingress TELNYX_PUBLIC_KEY default = %q, but the sandbox's SANDBOX_PRIVATE_KEY has public key %q: "+
			"sandbox webhooks would be rejected with 401", got, want)
	}
}

var envName = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)

// assignments reads KEY=value and KEY="value" lines of a file.
func assignments(tb testing.TB, path string) map[string]string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	out := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), "=")
		if ok && envName.MatchString(k) {
			out[k] = strings.Trim(v, `"'`)
		}
	}
	return out
}

// TestDevKeyPairIsTheSameEverywhere keeps the development key pair written out in docker-compose.yml and the
// sandbox's README-dev-key.txt equal to the one defined in Go (fakeapi.DevSeed, DevPublicKey), which make run and
// the tests use: a mismatch shows up as 401s from the ingress.
func TestDevKeyPairIsTheSameEverywhere(t *testing.T) {
	p := loadProject(t, loadConfig{})
	t.Run("docker-compose.yml", func(t *testing.T) {
		if got := envValue(t, service(t, p, "sandbox"), "SANDBOX_PRIVATE_KEY"); got != fakeapi.DevSeed {
			t.Errorf("sandbox SANDBOX_PRIVATE_KEY default = %q, want fakeapi.DevSeed %q", got, fakeapi.DevSeed)
		}
		if got := envValue(t, service(t, p, "ingress"), "TELNYX_PUBLIC_KEY"); got != fakeapi.DevPublicKey {
			t.Errorf("ingress TELNYX_PUBLIC_KEY default = %q, want fakeapi.DevPublicKey %q", got, fakeapi.DevPublicKey)
		}
	})
	t.Run("services/sandbox/README-dev-key.txt", func(t *testing.T) {
		vars := assignments(t, filepath.Join(p.WorkingDir, "services", "sandbox", "README-dev-key.txt"))
		if got := vars["SANDBOX_PRIVATE_KEY"]; got != fakeapi.DevSeed {
			t.Errorf("SANDBOX_PRIVATE_KEY = %q, want fakeapi.DevSeed %q", got, fakeapi.DevSeed)
		}
		if got := vars["TELNYX_PUBLIC_KEY"]; got != fakeapi.DevPublicKey {
			t.Errorf("TELNYX_PUBLIC_KEY = %q, want fakeapi.DevPublicKey %q", got, fakeapi.DevPublicKey)
		}
	})
}

var composeVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`)

// composeVariables lists the ${VAR} names used by docker-compose.yml.
func composeVariables(tb testing.TB) []string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(tb), "docker-compose.yml"))
	if err != nil {
		tb.Fatalf("read docker-compose.yml: %v", err)
	}
	var names []string
	for _, m := range composeVar.FindAllStringSubmatch(string(b), -1) {
		if !slices.Contains(names, m[1]) {
			names = append(names, m[1])
		}
	}
	slices.Sort(names)
	return names
}

// envExample parses deploy/.env.example.
func envExample(tb testing.TB) (path string, vars map[string]string) {
	tb.Helper()
	path = filepath.Join(repoRoot(tb), "deploy", ".env.example")
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("open deploy/.env.example: %v", err)
	}
	defer f.Close()
	vars, err = dotenv.Parse(f)
	if err != nil {
		tb.Fatalf("parse deploy/.env.example: %v", err)
	}
	return path, vars
}

func TestEnvExampleDocumentsEveryVariable(t *testing.T) {
	used := composeVariables(t)
	if len(used) == 0 {
		t.Fatalf("docker-compose.yml uses no ${VAR}: the defaults cannot be overridden")
	}
	_, documented := envExample(t)
	for _, name := range used {
		if _, ok := documented[name]; !ok {
			t.Errorf("docker-compose.yml uses ${%s} but deploy/.env.example does not document it", name)
		}
	}
	for name := range documented {
		if !slices.Contains(used, name) {
			t.Errorf("deploy/.env.example documents %s but docker-compose.yml never uses it", name)
		}
	}
}

// TestVariablesOverrideDefaults sets each documented variable to a marker and checks that it reaches the
// project; and that the example file, whose values are all empty, leaves every default in place (an empty value
// must fall back, so the file needs ${VAR:-default}, not ${VAR-default}).
func TestVariablesOverrideDefaults(t *testing.T) {
	path, documented := envExample(t)
	render := func(t *testing.T, p *types.Project) string {
		t.Helper()
		b, err := p.MarshalYAML()
		if err != nil {
			t.Fatalf("render project: %v", err)
		}
		return string(b)
	}
	defaults := render(t, loadProject(t, loadConfig{profiles: []string{"*"}}))
	for name, value := range documented {
		t.Run(name, func(t *testing.T) {
			if value != "" {
				t.Errorf("deploy/.env.example sets %s=%q; leave it empty so the default applies", name, value)
			}
			marker := "zz" + strings.ToLower(strings.ReplaceAll(name, "_", "")) + "42"
			got := render(t, loadProject(t, loadConfig{env: map[string]string{name: marker}, profiles: []string{"*"}}))
			if !strings.Contains(got, marker) {
				t.Errorf("setting %s does not change the project", name)
			}
		})
	}
	t.Run("example file keeps defaults", func(t *testing.T) {
		got := render(t, loadProject(t, loadConfig{envFiles: []string{path}, profiles: []string{"*"}}))
		if got != defaults {
			t.Errorf("loading with --env-file deploy/.env.example changes the project; an empty variable must fall back to its default")
		}
	})
}

func TestObservabilityProfile(t *testing.T) {
	if _, ok := loadProject(t, loadConfig{}).Services["prometheus"]; ok {
		t.Errorf("prometheus runs without --profile observability; keep the default stack small")
	}
	p := loadProject(t, loadConfig{profiles: []string{"observability"}})
	s := service(t, p, "prometheus")
	var configFile string
	for _, v := range s.Volumes {
		if v.Target == "/etc/prometheus/prometheus.yml" {
			configFile = v.Source
		}
	}
	if configFile == "" {
		t.Fatalf("prometheus does not mount a config at /etc/prometheus/prometheus.yml")
	}
	if rel, err := filepath.Rel(p.WorkingDir, configFile); err != nil || filepath.ToSlash(rel) != "deploy/prometheus.yml" {
		t.Errorf("prometheus config = %q, want deploy/prometheus.yml", configFile)
	}
	b, err := os.ReadFile(configFile)
	if err != nil {
		t.Fatalf("read prometheus config: %v", err)
	}
	var cfg struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
			DNSSDConfigs []struct {
				Names []string `yaml:"names"`
				Type  string   `yaml:"type"`
				Port  int      `yaml:"port"`
			} `yaml:"dns_sd_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("parse deploy/prometheus.yml: %v", err)
	}
	var ingress, worker bool
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			if slices.Contains(st.Targets, "ingress:8080") {
				ingress = true
			}
		}
		for _, d := range sc.DNSSDConfigs {
			if slices.Contains(d.Names, "worker") && d.Port == 9090 && (d.Type == "" || d.Type == "A") {
				worker = true
			}
		}
	}
	if !ingress {
		t.Errorf("deploy/prometheus.yml does not scrape ingress:8080")
	}
	if !worker {
		t.Errorf("deploy/prometheus.yml does not discover the workers with dns_sd_configs names [worker] port 9090")
	}
}

// dockerStage is one FROM ... AS name stage of a Dockerfile.
type dockerStage struct {
	name   string
	base   string
	expose []string
	lines  []string
}

func parseDockerfile(tb testing.TB, path string) []dockerStage {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("open Dockerfile: %v", err)
	}
	defer f.Close()
	var stages []dockerStage
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			st := dockerStage{base: fields[1]}
			if len(fields) >= 4 && strings.EqualFold(fields[2], "AS") {
				st.name = fields[3]
			}
			stages = append(stages, st)
			continue
		case "EXPOSE":
			if len(stages) > 0 {
				stages[len(stages)-1].expose = append(stages[len(stages)-1].expose, fields[1:]...)
			}
		}
		if len(stages) > 0 {
			stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, line)
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("read Dockerfile: %v", err)
	}
	return stages
}

func TestDockerfile(t *testing.T) {
	p := loadProject(t, loadConfig{})
	path := filepath.Join(p.WorkingDir, "deploy", "Dockerfile")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("deploy/Dockerfile: %v", err)
	}
	text := string(raw)
	stages := parseDockerfile(t, path)
	byName := map[string]dockerStage{}
	for _, st := range stages {
		byName[st.name] = st
	}
	// effective follows a stage's FROM chain to the external base image and the user the image runs as: the
	// last USER on the way, or the distroless :nonroot tag's built-in user.
	var effective func(name string, depth int) (base, user string)
	effective = func(name string, depth int) (base, user string) {
		st, ok := byName[name]
		if !ok || name == "" || depth > len(stages) {
			if strings.HasSuffix(name, ":nonroot") {
				user = "nonroot"
			}
			return name, user
		}
		base, user = effective(st.base, depth+1)
		for _, l := range st.lines {
			if f := strings.Fields(l); len(f) == 2 && strings.EqualFold(f[0], "USER") {
				user = f[1]
			}
		}
		return base, user
	}

	for _, name := range appServices {
		t.Run("stage "+name, func(t *testing.T) {
			s := service(t, p, name)
			st, ok := byName[s.Build.Target]
			if !ok {
				t.Fatalf("compose builds target %q but deploy/Dockerfile has no stage of that name", s.Build.Target)
			}
			base, user := effective(st.name, 0)
			if !strings.HasPrefix(base, "gcr.io/distroless/static") {
				t.Errorf("stage %s is based on %q, want gcr.io/distroless/static*", st.name, base)
			}
			if u := strings.Split(user, ":")[0]; u != "nonroot" && u != "65532" {
				t.Errorf("stage %s runs as user %q, want nonroot", st.name, user)
			}
			if port, ok := containerPort[name]; ok && !slices.Contains(st.expose, strconv.Itoa(port)) {
				t.Errorf("stage %s exposes %v, want %d", st.name, st.expose, port)
			}
			if !strings.Contains(strings.Join(st.lines, "\n"), "ENTRYPOINT") {
				t.Errorf("stage %s has no ENTRYPOINT", st.name)
			}
		})
	}
	for _, want := range []string{
		"USER nonroot",
		"CGO_ENABLED=0",
		"-trimpath",
		"-X main.version=${VERSION}",
		"COPY go.work",
		"./services/ingress/cmd/ingress",
		"./services/worker/cmd/worker",
		"./services/sandbox/cmd/sandbox",
	} {
		t.Run("mentions "+want, func(t *testing.T) {
			if !strings.Contains(text, want) {
				t.Errorf("deploy/Dockerfile does not contain %q", want)
			}
		})
	}
	t.Run("module files before sources", func(t *testing.T) {
		download := strings.Index(text, "go mod download")
		sources := strings.Index(text, "COPY shared/ ")
		if download < 0 || sources < 0 || download > sources {
			t.Errorf("deploy/Dockerfile should run go mod download before copying the sources, so the module layer is cached")
		}
	})
}

func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), ".dockerignore"))
	if err != nil {
		t.Fatalf(".dockerignore: %v", err)
	}
	var patterns []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, strings.TrimPrefix(strings.TrimSuffix(l, "/"), "/"))
		}
	}
	for _, want := range []string{".git", "bin", ".run", "deploy/.env"} {
		if !slices.Contains(patterns, want) {
			t.Errorf(".dockerignore does not exclude %s (patterns: %v)", want, patterns)
		}
	}
	for _, needed := range []string{"shared", "services", "go.work"} {
		if slices.Contains(patterns, needed) {
			t.Errorf(".dockerignore excludes %s, which the build needs", needed)
		}
	}
}
