//go:build !jt_nootlp

package obs

import (
	"context"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// newOTLPExporter returns the OTLP/HTTP exporter for the traces URL
// endpoint. Headers, timeout, compression and certificates come from the
// OTEL_EXPORTER_OTLP_* variables of the process environment, which the
// exporter reads itself.
//
// NOTE: otlptracehttp v1.47.0 links google.golang.org/grpc and the
// grpc-gateway runtime through go.opentelemetry.io/proto/otlp, although it
// sends plain HTTP. Building with -tags jt_nootlp leaves the exporter out.
func newOTLPExporter(ctx context.Context, endpoint string) (sdktrace.SpanExporter, error) {
	return otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
}
