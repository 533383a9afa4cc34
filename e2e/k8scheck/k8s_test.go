package k8scheck_test

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/smsconv/smsconv/shared/flow"
	"github.com/smsconv/smsconv/shared/platform"
)

// app describes what each service listens on, as the code serves it.
type app struct {
	name string
	// addrVar is the variable of its HTTP listener; portName the container port it must match.
	addrVar, portName string
	// readiness and liveness are the paths the probes must GET.
	readiness, liveness string
}

var apps = []app{
	{"ingress", "HTTP_ADDR", "http", "/readyz", "/healthz"},
	{"worker", "METRICS_ADDR", "metrics", "/healthz", "/healthz"},
}

func TestEnvironmentIsWhatTheServicesRead(t *testing.T) {
	r := render(t)
	for _, a := range apps {
		t.Run(a.name, func(t *testing.T) {
			vars := serviceVars(t, a.name)
			c := r.deployment(t, a.name).Spec.Template.Spec.Containers[0]
			seen := map[string]bool{}
			for _, e := range c.Env {
				if _, ok := vars[e.Name]; !ok {
					t.Errorf("%s sets %s, which %s does not read (%s -h)", a.name, e.Name, a.name, a.name)
				}
				if seen[e.Name] {
					t.Errorf("%s sets %s twice", a.name, e.Name)
				}
				seen[e.Name] = true
				r.envValue(t, c, e.Name) // fails on a key missing from its ConfigMap or Secret
			}
			if len(c.EnvFrom) > 0 {
				t.Errorf("%s uses envFrom: name each variable, so this check sees them", a.name)
			}
			for _, v := range vars {
				if strings.HasPrefix(v.desc, "(required)") && !seen[v.name] {
					t.Errorf("%s does not set %s, which is required: %s", a.name, v.name, v.desc)
				}
			}
		})
	}
}

func TestSecretsComeFromTheSecret(t *testing.T) {
	r := render(t)
	secretVars := []string{"TELNYX_API_KEY", "TELNYX_PUBLIC_KEY", "ADMIN_TOKEN"}
	for _, a := range apps {
		c := r.deployment(t, a.name).Spec.Template.Spec.Containers[0]
		for _, e := range c.Env {
			if slices.Contains(secretVars, e.Name) && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
				t.Errorf("%s: %s is not read from a Secret", a.name, e.Name)
			}
		}
	}
	for _, cm := range r.configMaps {
		for _, k := range secretVars {
			if _, ok := cm.Data[k]; ok {
				t.Errorf("ConfigMap %s holds %s: keys belong in the Secret", cm.Name, k)
			}
		}
	}
}

// TestSharedConfigurationIsValid runs the ConfigMap's NATS and Redis settings through the services' own
// validation (platform.Queue), and holds them to the NATS and Redis chart values beside them.
func TestSharedConfigurationIsValid(t *testing.T) {
	r := render(t)
	cm := r.configMaps["smsconv-config"]
	if cm == nil {
		t.Fatal("no ConfigMap smsconv-config")
	}
	var environ []string
	for k, v := range cm.Data {
		environ = append(environ, k+"="+v)
	}
	cfg, err := platform.Load(environ, platform.Defaults(time.Second))
	if err != nil {
		t.Fatalf("the ConfigMap does not validate as the services would: %v", err)
	}
	q := cfg.Queue

	natsValues := chartValues(t, "nats-values.yaml")
	t.Run("nats", func(t *testing.T) {
		replicas := intAt(t, natsValues, "config", "cluster", "replicas")
		if !boolAt(t, natsValues, "config", "cluster", "enabled") || !boolAt(t, natsValues, "config", "jetstream", "enabled") ||
			!boolAt(t, natsValues, "config", "jetstream", "fileStore", "enabled") {
			t.Errorf("nats-values.yaml: want cluster, JetStream and file storage enabled")
		}
		if q.NATSReplicas != 3 || replicas != q.NATSReplicas {
			t.Errorf("NATS_REPLICAS %d, chart replicas %d: want 3 on a three-server cluster", q.NATSReplicas, replicas)
		}
		var want []string
		for i := range replicas {
			want = append(want, "nats-"+strconv.Itoa(i)+".nats-headless:4222")
		}
		var got []string
		for _, s := range q.NATSServers() {
			got = append(got, strings.TrimPrefix(s, "nats://"))
		}
		if !slices.Equal(got, want) {
			t.Errorf("NATS_URL lists %v, want every server of the release: %v", got, want)
		}
	})
	redisValues := chartValues(t, "redis-values.yaml")
	t.Run("redis", func(t *testing.T) {
		if q.RedisTopology() != "sentinel" {
			t.Fatalf("the ConfigMap describes a %s Redis, want the Sentinels of redis-values.yaml", q.RedisTopology())
		}
		if m := stringAt(t, redisValues, "redis", "masterGroupName"); m != q.RedisSentinelMaster {
			t.Errorf("REDIS_SENTINEL_MASTER %q, chart masterGroupName %q", q.RedisSentinelMaster, m)
		}
		replicas := intAt(t, redisValues, "replicas")
		var want []string
		for i := range replicas {
			want = append(want, "redis-ha-announce-"+strconv.Itoa(i)+":26379")
		}
		if !slices.Equal(q.RedisSentinelAddrs, want) {
			t.Errorf("REDIS_SENTINEL_ADDRS %v, want every Sentinel of the release: %v", q.RedisSentinelAddrs, want)
		}
		if v := stringAt(t, redisValues, "redis", "config", "appendfsync"); v != "always" {
			t.Errorf("redis appendfsync %q, want always", v)
		}
	})
}

func TestPortsProbesAndScrapeAnnotations(t *testing.T) {
	r := render(t)
	for _, a := range apps {
		t.Run(a.name, func(t *testing.T) {
			vars := serviceVars(t, a.name)
			spec := r.deployment(t, a.name).Spec.Template
			c := spec.Spec.Containers[0]
			addr, set := r.envValue(t, c, a.addrVar)
			if !set {
				addr = vars[a.addrVar].def
			}
			_, p, err := net.SplitHostPort(addr)
			if err != nil {
				t.Fatalf("%s %q: %v", a.addrVar, addr, err)
			}
			listen, _ := strconv.Atoi(p)
			if got := containerPort(t, c, intstr.FromString(a.portName)); got != listen {
				t.Errorf("container port %s = %d, but the service listens on %d (%s)", a.portName, got, listen, a.addrVar)
			}
			for _, pr := range []struct {
				kind, path string
				probe      *corev1.Probe
			}{{"readiness", a.readiness, c.ReadinessProbe}, {"liveness", a.liveness, c.LivenessProbe}} {
				if pr.probe == nil || pr.probe.HTTPGet == nil {
					t.Errorf("no %s HTTP probe", pr.kind)
					continue
				}
				if pr.probe.HTTPGet.Path != pr.path {
					t.Errorf("%s probe GETs %s, want %s", pr.kind, pr.probe.HTTPGet.Path, pr.path)
				}
				if got := containerPort(t, c, pr.probe.HTTPGet.Port); got != listen {
					t.Errorf("%s probe on port %d, the service listens on %d", pr.kind, got, listen)
				}
			}
			ann := spec.Annotations
			if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/path"] != "/metrics" || ann["prometheus.io/port"] != strconv.Itoa(listen) {
				t.Errorf("scrape annotations %v, want scrape=true, path=/metrics, port=%d", ann, listen)
			}
		})
	}
	t.Run("ingress service", func(t *testing.T) {
		svc := r.services["ingress"]
		if svc == nil {
			t.Fatal("no Service ingress")
		}
		d := r.deployment(t, "ingress")
		if !selects(svc.Spec.Selector, d.Spec.Template.Labels) {
			t.Errorf("Service selector %v does not select the ingress pods %v", svc.Spec.Selector, d.Spec.Template.Labels)
		}
		for _, p := range svc.Spec.Ports {
			containerPort(t, d.Spec.Template.Spec.Containers[0], p.TargetPort)
		}
	})
}

func TestPodsRunAsNonRootWithResources(t *testing.T) {
	r := render(t)
	for _, a := range apps {
		t.Run(a.name, func(t *testing.T) {
			pod := r.deployment(t, a.name).Spec.Template.Spec
			psc := pod.SecurityContext
			if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
				t.Errorf("pod securityContext %+v: want runAsNonRoot and a non-zero runAsUser", psc)
			}
			if psc != nil && (psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault) {
				t.Errorf("pod seccompProfile: want RuntimeDefault")
			}
			c := pod.Containers[0]
			sc := c.SecurityContext
			if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
				sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
				sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				t.Errorf("container securityContext %+v: want no privilege escalation, a read-only root and ALL capabilities dropped", sc)
			}
			req := c.Resources.Requests
			if req.Cpu().IsZero() || req.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Errorf("resources %+v: want cpu and memory requests and a memory limit", c.Resources)
			}
		})
	}
}

func TestDisruptionBudgetsAndAutoscaler(t *testing.T) {
	r := render(t)
	for _, name := range []string{"ingress", "worker"} {
		t.Run("pdb "+name, func(t *testing.T) {
			pdb := r.pdbs[name]
			if pdb == nil {
				t.Fatalf("no PodDisruptionBudget %s", name)
			}
			if pdb.Spec.Selector == nil || !selects(pdb.Spec.Selector.MatchLabels, r.deployment(t, name).Spec.Template.Labels) {
				t.Errorf("PodDisruptionBudget %s does not select the %s pods", name, name)
			}
		})
	}
	t.Run("hpa", func(t *testing.T) {
		hpa := r.hpas["worker"]
		if hpa == nil {
			t.Fatal("no HorizontalPodAutoscaler worker")
		}
		ref := hpa.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" || ref.Name != "worker" {
			t.Errorf("HPA scales %s %s, want Deployment worker", ref.Kind, ref.Name)
		}
		parts, _ := strconv.Atoi(r.configMaps["smsconv-config"].Data["NATS_PARTITIONS"])
		if hpa.Spec.MaxReplicas > int32(parts) {
			t.Errorf("HPA maxReplicas %d > NATS_PARTITIONS %d: the workers past it would own no partition", hpa.Spec.MaxReplicas, parts)
		}
		if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 {
			t.Errorf("HPA minReplicas %v: want at least 2, so a worker lost leaves one", hpa.Spec.MinReplicas)
		}
	})
}

func TestNamespaceAndFlows(t *testing.T) {
	r := render(t)
	t.Run("namespace", func(t *testing.T) {
		if _, ok := r.namespaces["smsconv"]; !ok {
			t.Fatal("no Namespace smsconv")
		}
		for obj, ns := range r.namespaceOf {
			if ns != "smsconv" {
				t.Errorf("%s is in namespace %q, want smsconv", obj, ns)
			}
		}
	})
	t.Run("flows", func(t *testing.T) {
		flows := r.configMaps["smsconv-flows"]
		if flows == nil {
			t.Fatal("no ConfigMap smsconv-flows")
		}
		pod := r.deployment(t, "worker").Spec.Template.Spec
		var mount string
		for _, v := range pod.Volumes {
			if v.ConfigMap != nil && v.ConfigMap.Name == flows.Name {
				for _, m := range pod.Containers[0].VolumeMounts {
					if m.Name == v.Name {
						mount = m.MountPath
					}
				}
			}
		}
		if mount == "" {
			t.Fatalf("the worker does not mount ConfigMap %s (generated name)", flows.Name)
		}
		for file, data := range flows.Data {
			if _, err := flow.Parse(file, []byte(data)); err != nil {
				t.Errorf("flow %s in the ConfigMap: %v", file, err)
			}
		}
		ff, _ := r.envValue(t, pod.Containers[0], "FLOW_FILE")
		if ff != "" {
			if _, ok := flows.Data[strings.TrimPrefix(ff, mount+"/")]; !ok || !strings.HasPrefix(ff, mount+"/") {
				t.Errorf("FLOW_FILE %q is not a file of the mounted ConfigMap at %s", ff, mount)
			}
		}
	})
}

// containerPort resolves a probe or Service port (a number or a name) against the container's ports.
func containerPort(tb testing.TB, c corev1.Container, p intstr.IntOrString) int {
	tb.Helper()
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return int(cp.ContainerPort)
		}
	}
	tb.Fatalf("%s has no container port %s", c.Name, p.String())
	return 0
}

// selects says whether a label selector matches a pod's labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// chartValues reads a Helm values file of deploy/k8s.
func chartValues(tb testing.TB, name string) map[string]any {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(tb), "deploy", "k8s", name))
	if err != nil {
		tb.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(data, &v); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return v
}

func valueAt(tb testing.TB, v map[string]any, path ...string) any {
	tb.Helper()
	var cur any = v
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			tb.Fatalf("values: %s is not a map", strings.Join(path, "."))
		}
		cur = m[p]
	}
	return cur
}

func intAt(tb testing.TB, v map[string]any, path ...string) int {
	tb.Helper()
	f, ok := valueAt(tb, v, path...).(float64)
	if !ok {
		tb.Fatalf("values: %s is not a number", strings.Join(path, "."))
	}
	return int(f)
}

func boolAt(tb testing.TB, v map[string]any, path ...string) bool {
	tb.Helper()
	b, _ := valueAt(tb, v, path...).(bool)
	return b
}

func stringAt(tb testing.TB, v map[string]any, path ...string) string {
	tb.Helper()
	s, _ := valueAt(tb, v, path...).(string)
	return s
}
