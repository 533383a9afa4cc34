package app

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsconv/smsconv/services/worker/internal/metrics"
)

// The console's figures are the registry's: 2xx Telnyx answers count as sent, every other answer (and no
// answer) as failed.
func TestTotalsFromTheRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	for _, status := range []int{200, 200, 202, 500, 429, 0} {
		m.ObserveTelnyxRequest(status, time.Millisecond)
	}
	got := Totals(reg, "w1")
	if got.Worker != "w1" || got.Sent != 3 || got.Failed != 3 {
		t.Fatalf("Totals = %+v, want w1 with 3 sent and 3 failed", got)
	}
}
