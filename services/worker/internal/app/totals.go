package app

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsconv/smsconv/shared/connect"
	"github.com/smsconv/smsconv/shared/events"
	"github.com/smsconv/smsconv/shared/platform"
)

// totalsComponent answers the console's requests for this worker's counters (events.TotalsSubject), read
// from the same registry /metrics serves, so the console's charts and Prometheus agree.
func totalsComponent(conns *connect.Conns, workerID string, g prometheus.Gatherer) platform.Component {
	var sub *nats.Subscription
	return platform.Component{
		Name: "totals",
		Start: func(context.Context) error {
			var err error
			sub, err = conns.NC.Subscribe(events.TotalsSubject, func(m *nats.Msg) {
				b, _ := json.Marshal(Totals(g, workerID))
				_ = m.Respond(b)
			})
			if err != nil {
				return fmt.Errorf("subscribe %s: %w", events.TotalsSubject, err)
			}
			return nil
		},
		Stop: func(context.Context) error {
			if sub != nil {
				return sub.Unsubscribe()
			}
			return nil
		},
	}
}

// Totals sums the worker's Telnyx request counter: answered 2xx is a message Telnyx accepted, anything else
// a failed attempt.
func Totals(g prometheus.Gatherer, workerID string) events.Totals {
	t := events.Totals{Worker: workerID}
	families, err := g.Gather()
	if err != nil {
		return t
	}
	for _, f := range families {
		if f.GetName() != "smsconv_telnyx_api_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			code := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "code" {
					code = l.GetValue()
				}
			}
			if strings.HasPrefix(code, "2") {
				t.Sent += m.GetCounter().GetValue()
			} else {
				t.Failed += m.GetCounter().GetValue()
			}
		}
	}
	return t
}
