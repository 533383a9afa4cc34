package obs

import (
	"context"

	"github.com/smsconv/smsconv/shared/platform"
)

// Tracing is the component that sets up OpenTelemetry tracing for serviceName (SetupTracing) and flushes
// the spans still buffered when the service stops.
func Tracing(serviceName string) platform.Component {
	var shutdown func(context.Context) error
	return platform.Component{
		Name: "tracing",
		Start: func(ctx context.Context) error {
			var err error
			shutdown, err = SetupTracing(ctx, serviceName)
			return err
		},
		Stop: func(ctx context.Context) error { return shutdown(ctx) },
	}
}
