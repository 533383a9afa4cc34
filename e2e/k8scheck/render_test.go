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
			o := &appsv1.Deployment{}
			r.deployments[name], obj = o, o
		case "Service":
			o := &corev1.Service{}
			r.services[name], obj = o, o
		case "ConfigMap":
			o := &corev1.ConfigMap{}
			r.configMaps[baseName(name)], obj = o, o
		case "Secret":
			o := &corev1.Secret{}
			r.secrets[name], obj = o, o
		case "PodDisruptionBudget":
			o := &policyv1.PodDisruptionBudget{}
			r.pdbs[name], obj = o, o
		case "HorizontalPodAutoscaler":
			o := &autoscalingv2.HorizontalPodAutoscaler{}
			r.hpas[name], obj = o, o
		case "Namespace":
			o := &corev1.Namespace{}
			r.namespaces[name], obj = o, o
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
			cm, ok := r.configMaps[ref.Name]
			if !ok {
				cm = &corev1.ConfigMap{}
			}
			return lookup(tb, c.Name, name, "ConfigMap", ref.Name, ref.Key, ok, cm.Data), true
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			sec, ok := r.secrets[ref.Name]
			if !ok {
				sec = &corev1.Secret{}
			}
			return lookup(tb, c.Name, name, "Secret", ref.Name, ref.Key, ok, sec.StringData), true
		default:
			return fmt.Sprintf("(from %v)", e.ValueFrom), true
		}
	}
	return "", false
}

// lookup returns key of the ConfigMap or Secret (kind) named obj, whose data is data when deploy/ defines it,
// failing when either is missing.
func lookup(tb testing.TB, container, variable, kind, obj, key string, defined bool, data map[string]string) string {
	tb.Helper()
	if !defined {
		tb.Fatalf("%s: %s from %s %s, which deploy/ does not define", container, variable, kind, obj)
	}
	v, ok := data[key]
	if !ok {
		tb.Fatalf("%s: %s from %s %s key %s, which it does not have", container, variable, kind, obj, key)
	}
	return v
}
