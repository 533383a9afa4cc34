package composecheck_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/smsconv/smsconv/e2e/internal/stack"
)

// TestDockerfileGoVersionIsGoWorks keeps the Go release pinned in one place: the image the Dockerfile
// builds with is exactly the release go.work requires. The golang image runs with GOTOOLCHAIN=local, so a
// floating tag such as golang:1.26 that resolves to an older cached 1.26.x fails the build.
func TestDockerfileGoVersionIsGoWorks(t *testing.T) {
	root := repoRoot(t)
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return string(b)
	}
	work := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(read("go.work"))
	if work == nil {
		t.Fatal("go.work has no go line")
	}
	dockerfile := read("deploy/Dockerfile")
	arg := regexp.MustCompile(`(?m)^ARG GO_VERSION=(\S+)$`).FindStringSubmatch(dockerfile)
	if arg == nil {
		t.Fatal("deploy/Dockerfile has no ARG GO_VERSION=<release>")
	}
	if arg[1] != work[1] {
		t.Errorf("deploy/Dockerfile builds with Go %s, go.work requires %s: change both together", arg[1], work[1])
	}
	if !regexp.MustCompile(`(?m)^FROM golang:\$\{GO_VERSION\} AS build$`).MatchString(dockerfile) {
		t.Error("the build stage is not FROM golang:${GO_VERSION}")
	}
}

// TestREADMEUsesTheComposeAdminToken checks that the README's curl examples work against the stack
// `docker compose up` starts: every Bearer token they show is the ingress's default ADMIN_TOKEN.
func TestREADMEUsesTheComposeAdminToken(t *testing.T) {
	token := envValue(t, service(t, loadProject(t, loadConfig{}), "ingress"), "ADMIN_TOKEN")
	if token != stack.DevAdminToken {
		t.Errorf("compose's default ADMIN_TOKEN is %q, want the development token %s (the one make run and the tests use)",
			token, stack.DevAdminToken)
	}
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	shown := regexp.MustCompile("Authorization: Bearer ([^\"'`\\s]+)").FindAllStringSubmatch(string(b), -1)
	if len(shown) == 0 {
		t.Fatal("the README shows no curl example with a Bearer token")
	}
	for _, m := range shown {
		if m[1] != token && m[1] != "$ADMIN_TOKEN" {
			t.Errorf("README uses Bearer %s; docker compose up answers only %s", m[1], token)
		}
	}
}
