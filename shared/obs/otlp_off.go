//go:build jt_nootlp

package obs

import (
	"context"
	"errors"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// newOTLPExporter fails: this binary was built with the jt_nootlp tag,
// which leaves the OTLP exporter and its gRPC dependencies out.
func newOTLPExporter(context.Context, string) (sdktrace.SpanExporter, error) {
	return nil, errors.New("obs: this binary was built with -tags jt_nootlp, without the OTLP exporter; rebuild without the tag or set OTEL_TRACES_EXPORTER=console or none")
}
