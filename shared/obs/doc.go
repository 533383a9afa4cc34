// Package obs sets up what operators observe besides logs (which shared/platform sets up): Prometheus
// metrics and OpenTelemetry traces.
package obs
