package k8scheck_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/smsconv/smsconv/e2e/internal/stack"
)

// rendered is deploy/ as kustomize renders it, each object decoded into its API type.
type rendered struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	configMaps  map[string]*corev1.ConfigMap // by name before kustomize's hash suffix
	secrets     map[string]*corev1.Secret
	pdbs        map[string]*policyv1.PodDisruptionBudget
	hpas        map[string]*autoscalingv2.HorizontalPodAutoscaler
	namespaces  map[string]*corev1.Namespace
	// namespaceOf is every namespaced object's namespace, by kind/name.
	namespaceOf map[string]string
}

func repoRoot(tb testing.TB) string {
	tb.Helper()
	root, err := stack.RepoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

// render runs kustomize on deploy/ and decodes each object strictly: an unknown or misspelt field fails.
func render(tb testing.TB) *rendered {
	tb.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(repoRoot(tb), "deploy"))
	if err != nil {
		tb.Fatalf("kustomize build deploy/: %v", err)
	}
	r := &rendered{
		deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		pdbs: map[string]*policyv1.PodDisruptionBudget{}, hpas: map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		namespaces: map[string]*corev1.Namespace{}, namespaceOf: map[string]string{},
	}
	for _, res := range m.Resources() {
		data, err := res.AsYAML()
		if err != nil {
			tb.Fatal(err)
		}
		kind, name := res.GetKind(), res.GetName()
		var obj any
		switch kind {
		case "Deployment":
			obj = into(r.deployments, name)
		case "Service":
			obj = into(r.services, name)
		case "ConfigMap":
			obj = into(r.configMaps, baseName(name))
		case "Secret":
			obj = into(r.secrets, name)
		case "PodDisruptionBudget":
			obj = into(r.pdbs, name)
		case "HorizontalPodAutoscaler":
			obj = into(r.hpas, name)
		case "Namespace":
			obj = into(r.namespaces, name)
		default:
			tb.Fatalf("deploy/ renders a %s %s the checks do not know: add its type to render", kind, name)
		}
		if err := yaml.UnmarshalStrict(data, obj); err != nil {
			tb.Fatalf("%s %s does not decode strictly into the Kubernetes type: %v\n%s", kind, name, err, data)
		}
		if kind != "Namespace" {
			r.namespaceOf[kind+"/"+name] = res.GetNamespace()
		}
	}
	return r
}

// into files a new, empty object of type T in m under key and returns it for decoding.
func into[T any](m map[string]*T, key string) any {
	o := new(T)
	m[key] = o
	return o
}

// baseName strips the content hash kustomize appends to a generated ConfigMap's name.
func baseName(name string) string {
	if i := strings.LastIndex(name, "-"); i > 0 && len(name)-i-1 == 10 && !strings.Contains(name[i+1:], "-") {
		if strings.HasPrefix(name, "smsconv-flows") {
			return name[:i]
		}
	}
	return name
}

// serviceVar is one environment variable a service reads, as its -h lists it.
type serviceVar struct {
	name, def, desc string
}

// serviceVars runs `<service> -h` (go run, through go.work) and parses its table of variables: the names come
// from the configuration structs' env tags, so the manifests are checked against what the code reads.
func serviceVars(tb testing.TB, service string) map[string]serviceVar {
	tb.Helper()
	cmd := exec.CommandContext(context.Background(), "go", "run", "./services/"+service+"/cmd/"+service, "-h")
	cmd.Dir = repoRoot(tb)
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("%s -h: %v\n%s", service, err, out)
	}
	vars := map[string]serviceVar{}
	inTable := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "Environment variables:"):
			inTable = true
		case !inTable || len(fields) < 2 || fields[0] == "VARIABLE":
		default:
			vars[fields[0]] = serviceVar{name: fields[0], def: fields[1], desc: strings.Join(fields[2:], " ")}
		}
	}
	if len(vars) < 5 {
		tb.Fatalf("%s -h listed only %d variables:\n%s", service, len(vars), out)
	}
	return vars
}

func (r *rendered) deployment(tb testing.TB, name string) *appsv1.Deployment {
	tb.Helper()
	d, ok := r.deployments[name]
	if !ok {
		tb.Fatalf("no Deployment %s in deploy/", name)
	}
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		tb.Fatalf("Deployment %s has %d containers, want 1", name, n)
	}
	return d
}

// envValue resolves a container's variable to its value: a literal, or the key of the ConfigMap or Secret it
// references (failing when the key is missing there).
func (r *rendered) envValue(tb testing.TB, c corev1.Container, name string) (string, bool) {
	tb.Helper()
	for _, e := range c.Env {
		if e.Name != name {
			continue
		}
		switch {
		case e.ValueFrom == nil:
			return e.Value, true
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			return lookup(tb, c.Name+": "+name, "ConfigMap", r.configMaps, ref.Name, ref.Key,
				func(cm *corev1.ConfigMap) map[string]string { return cm.Data }), true
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			return lookup(tb, c.Name+": "+name, "Secret", r.secrets, ref.Name, ref.Key,
				func(s *corev1.Secret) map[string]string { return s.StringData }), true
		default:
			return fmt.Sprintf("(from %v)", e.ValueFrom), true
		}
	}
	return "", false
}

// lookup returns key of the ConfigMap or Secret (kind) named obj among objs, whose keys data gives, failing
// when either is missing; what names the container and variable that reference it.
func lookup[T any](tb testing.TB, what, kind string, objs map[string]*T, obj, key string, data func(*T) map[string]string) string {
	tb.Helper()
	o, ok := objs[obj]
	if !ok {
		tb.Fatalf("%s from %s %s, which deploy/ does not define", what, kind, obj)
	}
	v, ok := data(o)[key]
	if !ok {
		tb.Fatalf("%s from %s %s key %s, which it does not have", what, kind, obj, key)
	}
	return v
}
