// Package cron runs the cron jobs (fn.Job) of a Jingtong function, whichever
// platform fires them.
//
// # Ticks, locks and missed ticks
//
// A job's schedule (Parse) defines its ticks, read in Asia/Shanghai unless
// configured otherwise. Every trigger, from a platform event, an internal
// call or the in-process Scheduler, runs at most the job's last tick at or
// before the trigger time, and only after claiming that tick through a
// Locker. A tick is claimed once, and never after a later tick of the same
// job, so replicas and repeated deliveries run each tick once. SQLLocker
// keeps claims in a table of the function's database (SQLite or
// PostgreSQL), RedisLocker in Redis, MemoryLocker in the process.
//
// A tick more than the grace period late (DefaultGrace) is missed.
// fn.MissedSkip drops it. fn.MissedCatchUpOnce runs the job once for all
// ticks missed since the last claimed one, as the latest tick that is due. A
// job with no claimed tick yet has missed nothing. A failed run releases its
// claim, so a platform's retry of the same tick runs it again.
//
// # How each platform names the job
//
// The platform's schedule must fire at the same instants as the job's
// schedule in this package, which JT_CRON_<FUNCTION>_<JOB> can override.
// Otherwise each event runs the job's last tick before it, and events more
// than the grace period after that tick are dropped as missed.
//
//   - Knative PingSource: set spec.sink to the function's service with uri
//     "/_jt/cron/<job>", spec.timezone to the zone of the schedule, and
//     JT_CRON_SOURCES=pingsource on the function. Binary and structured
//     CloudEvents of type dev.knative.sources.ping are accepted.
//   - OpenFaaS cron-connector: it posts to the function root with the
//     header "X-Connector: cron-connector", so a function entry in stack.yml
//     serves one job. Give it the annotations "topic: cron-function" and
//     "schedule: <5-field schedule>", and the environment
//     JT_CRON_SOURCES=cron-connector and JT_CRON_CONNECTOR_JOB=<job>. A
//     function with several jobs needs one stack.yml entry per job (the
//     same image under another name). The connector reads the schedule in
//     its process's local time zone, robfig/cron's default, which the
//     connector's TZ variable sets.
//   - Tencent SCF timer trigger: name the trigger after the job, or set its
//     message to {"job": "<job>"}. triggers.Run passes the events to
//     Runner.HandleSCFTimer.
//   - Amazon EventBridge: name the rule "<function>.<job>", optionally with
//     a prefix such as "prod.", and target the Lambda function without an
//     input, or give the target (or an EventBridge Scheduler schedule) the
//     input {"detail-type": "Scheduled Event", "detail": {"job": "<job>"}},
//     adding "time": "<aws.scheduler.scheduled-time>" on Scheduler.
//     triggers.Run passes the events to Runner.HandleEventBridge. Rule cron
//     expressions are in UTC, and a Scheduler schedule takes a time zone.
//   - Internal calls: POST /_jt/cron/<job> signed with auth.SignPlatform.
//
// Requests to /_jt/cron/ without a valid platform token, other than from
// the sources listed in JT_CRON_SOURCES, get 401 and run nothing. The
// gateway must not route /_jt/ paths from outside.
package cron
