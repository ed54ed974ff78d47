// Package audit keeps an append-only log of the requests the gateway
// protects, chained with HMAC-SM3 so that changed or deleted records are
// detectable.
//
// # Chain
//
// Each record's mac is HMAC-SM3(key, prev || canonical record bytes),
// where prev is the mac of the record before it in the same chain, or 32
// zero bytes for the first record. The canonical bytes are the 12 bytes
// "jt-audit-v1" 0x00 followed by the fields replica, seq, time (Unix
// microseconds, UTC), subject, route, method, path, status, latency in
// milliseconds and request id. Strings are written as a 4-byte big-endian
// length and their UTF-8 bytes, integers as 8-byte big-endian two's
// complement.
//
// # Replicas
//
// Every gateway replica writes its own chain, keyed by a replica id, with
// seq counting 1, 2, 3… in that chain. A replica serializes its appends in
// process, so its chain never forks however many requests run at once, and
// no replica locks another's chain. The table's UNIQUE (replica, seq)
// constraint covers the misconfiguration of two processes sharing one id:
// the second insert of a sequence number fails, the loser reloads the
// chain's tip and appends after it, so the chain stays linear.
//
// # Writing
//
// Writer queues records in a bounded channel and appends them in batches
// from one goroutine, so requests never wait for the database. When the
// queue is full, Log drops the record, counts it in the
// jt_gateway_audit_records_total{outcome="dropped"} metric and logs at
// Warn, at most once every 10 seconds; it never blocks.
//
// # Verifying
//
// Verify walks every chain and reports the first broken link of each: a
// record whose mac does not match its content and predecessor (an UPDATE),
// or a gap in seq (a DELETE). VerifyCommand is the `gateway audit-verify`
// command.
//
// NOTE: a chain alone cannot show that records were cut from its end, or
// that a whole replica's chain was deleted. Writer logs the chain tip (seq
// and mac) at Info when it closes, so that the log archive can anchor it;
// the database role of the gateway should also lack UPDATE and DELETE on
// the table.
package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jingtong/backend/shared/smcrypto"
)

// MinKeyBytes is the shortest accepted HMAC-SM3 key.
const MinKeyBytes = 16

// Field length caps. Longer values are cut at a UTF-8 boundary before the
// record is chained, so that the stored record and the MAC input agree.
const (
	maxSubject   = 256
	maxRoute     = 64
	maxMethod    = 16
	maxPath      = 2048
	maxRequestID = 64
)

// canonicalTag starts the MAC input of every record, so a change of the
// format can never be mistaken for a record of this one.
const canonicalTag = "jt-audit-v1\x00"

// Record is one protected request.
type Record struct {
	Subject   string    // who: the authenticated user id, "" when anonymous
	Route     string    // route name
	Method    string    // HTTP method
	Path      string    // request path, without the query string
	Status    int       // response status
	LatencyMS int64     // time to serve, in milliseconds
	RequestID string    // X-Request-Id
	Time      time.Time // when the request arrived
}

// normalize returns r as it will be stored: strings made valid UTF-8
// without NUL bytes (PostgreSQL text holds neither) and cut to their caps,
// and the time in UTC at microsecond precision.
func (r Record) normalize() Record {
	r.Subject = clean(r.Subject, maxSubject)
	r.Route = clean(r.Route, maxRoute)
	r.Method = clean(r.Method, maxMethod)
	r.Path = clean(r.Path, maxPath)
	r.RequestID = clean(r.RequestID, maxRequestID)
	r.Time = r.Time.UTC().Truncate(time.Microsecond)
	return r
}

func clean(s string, limit int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// replicaID matches valid replica ids.
var replicaID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)

func checkReplica(id string) error {
	if !replicaID.MatchString(id) {
		return fmt.Errorf("audit: replica id %q must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'", id)
	}
	return nil
}

// ErrShortKey reports a MAC key shorter than MinKeyBytes.
var ErrShortKey = errors.New("audit: the HMAC-SM3 key must have at least 16 bytes")

// writeMACInput writes prev and the canonical bytes of the record seq of
// replica to h.
func writeMACInput(h hash.Hash, prev []byte, replica string, seq int64, r Record) {
	h.Write(prev)
	var buf [8]byte
	str := func(s string) {
		binary.BigEndian.PutUint32(buf[:4], uint32(len(s)))
		h.Write(buf[:4])
		h.Write([]byte(s))
	}
	num := func(v int64) {
		binary.BigEndian.PutUint64(buf[:], uint64(v))
		h.Write(buf[:])
	}
	h.Write([]byte(canonicalTag))
	str(replica)
	num(seq)
	num(r.Time.UnixMicro())
	str(r.Subject)
	str(r.Route)
	str(r.Method)
	str(r.Path)
	num(int64(r.Status))
	num(r.LatencyMS)
	str(r.RequestID)
}

// computeMAC returns the mac of the record seq of replica after prev.
func computeMAC(key, prev []byte, replica string, seq int64, r Record) [smcrypto.SM3Size]byte {
	h := smcrypto.NewHMAC(key)
	writeMACInput(h, prev, replica, seq, r)
	var out [smcrypto.SM3Size]byte
	h.Sum(out[:0])
	return out
}
