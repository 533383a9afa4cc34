package shipcheck_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/smsconv/smsconv/e2e/internal/stack"
)

// TestBinariesLinkNoTestCode lists every package each binary links (go list -deps, as the build sees them) and
// fails on the standard test packages or on one of our own *test helper packages (telnyxtest, natstest,
// redistest, sandboxtest, ingresstest, ...).
func TestBinariesLinkNoTestCode(t *testing.T) {
	root, err := stack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, bin := range []string{"ingress", "worker", "sandbox"} {
		t.Run(bin, func(t *testing.T) {
			pkg := "./services/" + bin + "/cmd/" + bin
			cmd := exec.CommandContext(context.Background(), "go", "list", "-deps", pkg)
			cmd.Dir = root
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", pkg, err)
			}
			deps := strings.Fields(string(out))
			if len(deps) < 10 {
				t.Fatalf("go list -deps %s listed only %v", pkg, deps)
			}
			for _, d := range deps {
				own := strings.HasPrefix(d, "github.com/smsconv/smsconv/")
				if d == "testing" || d == "net/http/httptest" || (own && strings.HasSuffix(d, "test")) {
					t.Errorf("%s links %s", pkg, d)
				}
			}
		})
	}
}
