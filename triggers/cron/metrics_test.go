package cron

import (
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestPrometheusMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := NewPrometheusMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	tick := time.Date(2026, 3, 1, 3, 17, 0, 0, time.UTC)
	for _, res := range []Result{
		{Function: "zones", Job: "refresh", Source: SourceScheduler, Tick: tick, Outcome: OutcomeSucceeded, Duration: 2 * time.Second},
		{Function: "zones", Job: "refresh", Source: SourcePingSource, Tick: tick, Outcome: OutcomeAlreadyClaimed},
		{Function: "zones", Job: "refresh", Source: SourceScheduler, Tick: tick.Add(time.Hour), Outcome: OutcomeFailed, Duration: time.Second},
	} {
		m.Observe(res)
	}

	got := gather(t, reg)
	want := []string{
		`jt_cron_last_success_tick_seconds{function=zones,job=refresh} 1.77233502e+09`,
		`jt_cron_run_duration_seconds{function=zones,job=refresh} count=2 sum=3`,
		`jt_cron_triggers_total{function=zones,job=refresh,outcome=already_claimed,source=pingsource} 1`,
		`jt_cron_triggers_total{function=zones,job=refresh,outcome=failed,source=scheduler} 1`,
		`jt_cron_triggers_total{function=zones,job=refresh,outcome=succeeded,source=scheduler} 1`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("metrics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	if _, err := NewPrometheusMetrics(reg); err == nil {
		t.Error("registering twice succeeded, want an error")
	}
}

// gather returns one sorted line per series in reg.
func gather(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, mf := range families {
		for _, metric := range mf.GetMetric() {
			var labels []string
			for _, l := range metric.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			lines = append(lines, mf.GetName()+"{"+strings.Join(labels, ",")+"} "+value(metric))
		}
	}
	sort.Strings(lines)
	return lines
}

func value(m *dto.Metric) string {
	switch {
	case m.GetCounter() != nil:
		return formatFloat(m.GetCounter().GetValue())
	case m.GetGauge() != nil:
		return formatFloat(m.GetGauge().GetValue())
	case m.GetHistogram() != nil:
		h := m.GetHistogram()
		return "count=" + formatFloat(float64(h.GetSampleCount())) + " sum=" + formatFloat(h.GetSampleSum())
	}
	return "?"
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
