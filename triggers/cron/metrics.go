package cron

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// PrometheusMetrics is a Metrics that records into Prometheus:
//
//	jt_cron_triggers_total{function, job, source, outcome}   counter of triggers
//	jt_cron_run_duration_seconds{function, job}               histogram of runs
//	jt_cron_last_success_tick_seconds{function, job}          tick of the last successful run, in Unix seconds
//
// An alert on time() - jt_cron_last_success_tick_seconds finds jobs that
// have stopped succeeding.
type PrometheusMetrics struct {
	triggers    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	lastSuccess *prometheus.GaugeVec
}

var _ Metrics = (*PrometheusMetrics)(nil)

// NewPrometheusMetrics registers the cron metrics in reg. It returns an
// error when reg has them already.
func NewPrometheusMetrics(reg prometheus.Registerer) (*PrometheusMetrics, error) {
	m := &PrometheusMetrics{
		triggers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jt_cron_triggers_total",
			Help: "Cron job triggers, by function, job, source and outcome.",
		}, []string{"function", "job", "source", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "jt_cron_run_duration_seconds",
			Help:    "Run time of cron jobs that ran, by function and job.",
			Buckets: []float64{.01, .05, .1, .5, 1, 5, 10, 30, 60, 300, 900},
		}, []string{"function", "job"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "jt_cron_last_success_tick_seconds",
			Help: "Scheduled time of the last successful run, in Unix seconds, by function and job.",
		}, []string{"function", "job"}),
	}
	for _, c := range []prometheus.Collector{m.triggers, m.duration, m.lastSuccess} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("cron: registering metrics: %w", err)
		}
	}
	return m, nil
}

// Observe implements Metrics.
func (m *PrometheusMetrics) Observe(res Result) {
	m.triggers.WithLabelValues(res.Function, res.Job, string(res.Source), string(res.Outcome)).Inc()
	if res.Outcome != OutcomeSucceeded && res.Outcome != OutcomeFailed {
		return
	}
	m.duration.WithLabelValues(res.Function, res.Job).Observe(res.Duration.Seconds())
	if res.Outcome == OutcomeSucceeded {
		m.lastSuccess.WithLabelValues(res.Function, res.Job).Set(float64(res.Tick.Unix()))
	}
}
