package obstest_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/smsconv/smsconv/shared/obs/obstest"
)

const root = "../../.."

// TestDashboardChartsTheDocumentedMetrics: every metric a dashboard panel queries is in the README's table
// (whose rows each service's tests check against what it exports), and every documented metric is charted.
func TestDashboardChartsTheDocumentedMetrics(t *testing.T) {
	table := obstest.READMETable(t, root)
	dash := obstest.DashboardMetrics(t, root)
	for _, name := range slices.Sorted(maps.Keys(dash)) {
		if _, ok := table[name]; !ok {
			t.Errorf("panels %q query %s, which the README's metrics table does not document", dash[name], name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(table)) {
		if _, ok := dash[name]; !ok {
			t.Errorf("metric %s has no panel on the dashboard", name)
		}
		if len(table[name].Services) == 0 {
			t.Errorf("README row of %s names no service", name)
		}
	}
}
