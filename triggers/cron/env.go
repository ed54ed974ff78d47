package cron

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/fn"
)

// Variables that OptionsFromEnv reads, besides JT_PLATFORM_SECRET (or
// JT_PLATFORM_SECRET_FILE) and the per-job overrides named by OverrideVar.
const (
	// TimezoneVar names the IANA time zone of schedules without a CRON_TZ=
	// prefix. Default Asia/Shanghai.
	TimezoneVar = "JT_CRON_TIMEZONE"
	// GraceVar is how late a tick may start and still count as on time, a
	// Go duration. Default DefaultGrace (5m).
	GraceVar = "JT_CRON_GRACE"
	// TimeoutVar bounds one run of a job without its own timeout override,
	// a Go duration. Default DefaultTimeout (10m).
	TimeoutVar = "JT_CRON_TIMEOUT"
	// SourcesVar lists, comma-separated, the platform schedulers whose
	// requests are accepted without a platform token: "pingsource" on
	// Knative, "cron-connector" on OpenFaaS. Default none.
	SourcesVar = "JT_CRON_SOURCES"
	// ConnectorJobVar names the job that a cron-connector request to the
	// function root runs. Default none.
	ConnectorJobVar = "JT_CRON_CONNECTOR_JOB"
	// RedisURLVar, when set, keeps the tick locks in Redis at this URL
	// (redis://[user:password@]host:port/db) instead of the function's
	// database.
	RedisURLVar = "JT_CRON_REDIS_URL"
	// InProcessVar, read by triggers.Run, set to true runs the jobs with a
	// Scheduler in the process of a plain HTTP deployment. Default false.
	InProcessVar = "JT_CRON_IN_PROCESS"
)

var reservedVars = map[string]bool{
	TimezoneVar: true, GraceVar: true, TimeoutVar: true, SourcesVar: true,
	ConnectorJobVar: true, RedisURLVar: true, InProcessVar: true,
}

// OptionsFromEnv reads the Options of a deployed function through env: the
// variables above, the platform secret, and env's Lookup, Logger and Now.
// The Locker is a RedisLocker when JT_CRON_REDIS_URL is set, and otherwise a
// SQLLocker on the database that env.OpenDB opens, whose cron_ticks table
// Migrate must have created. The returned close function releases the Redis
// client, and the host closes the database. OptionsFromEnv reports every problem
// together and never logs or returns secret values.
func OptionsFromEnv(ctx context.Context, env *fn.Env) (Options, func() error, error) {
	noop := func() error { return nil }
	opts := Options{Lookup: env.Lookup, Logger: env.Logger, Now: env.Now}

	var problems []error
	if zone := env.Getenv(TimezoneVar, ""); zone != "" {
		loc, err := time.LoadLocation(zone)
		if err != nil || strings.EqualFold(zone, "local") {
			problems = append(problems, fmt.Errorf("cron: invalid %s %q: want an IANA time zone such as Asia/Shanghai", TimezoneVar, zone))
		}
		opts.Location = loc
	}
	opts.Grace = durationVar(env, GraceVar, &problems)
	opts.Timeout = durationVar(env, TimeoutVar, &problems)
	opts.ConnectorJob = env.Getenv(ConnectorJobVar, "")

	for s := range strings.SplitSeq(env.Getenv(SourcesVar, ""), ",") {
		switch src := Source(strings.TrimSpace(s)); src {
		case "":
		case SourcePingSource, SourceCronConnector:
			opts.Sources = append(opts.Sources, src)
		default:
			problems = append(problems, fmt.Errorf("cron: invalid %s entry %q: want %s or %s", SourcesVar, s, SourcePingSource, SourceCronConnector))
		}
	}

	secret, err := auth.LoadSecret(env.Lookup, auth.PlatformSecretVar)
	if err != nil {
		problems = append(problems, err)
	}
	opts.PlatformSecret = secret
	if err := errors.Join(problems...); err != nil {
		return Options{}, noop, err
	}

	if url := env.Getenv(RedisURLVar, ""); url != "" {
		ro, err := redis.ParseURL(url)
		if err != nil {
			// The URL may hold a password, so neither it nor the parser's
			// message goes into the error.
			return Options{}, noop, fmt.Errorf("cron: invalid %s: want redis://[user:password@]host:port/db", RedisURLVar)
		}
		rdb := redis.NewClient(ro)
		opts.Locker = NewRedisLocker(rdb, RedisLockerOptions{})
		return opts, rdb.Close, nil
	}

	if env.OpenDB == nil {
		return Options{}, noop, fmt.Errorf("cron: the host provides no database for the tick locks; set %s", RedisURLVar)
	}
	db, err := env.OpenDB(ctx)
	if err != nil {
		return Options{}, noop, fmt.Errorf("cron: opening the database for the tick locks: %w", err)
	}
	opts.Locker = NewSQLLocker(db, SQLLockerOptions{Now: env.Now})
	return opts, noop, nil
}

func durationVar(env *fn.Env, key string, problems *[]error) time.Duration {
	v := env.Getenv(key, "")
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		*problems = append(*problems, fmt.Errorf("cron: invalid %s %q: want a positive Go duration such as 5m", key, v))
		return 0
	}
	return d
}
