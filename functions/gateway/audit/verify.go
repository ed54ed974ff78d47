package audit

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/smcrypto"
	"github.com/jingtong/backend/shared/store"
)

// verifyPage is how many rows Verify reads per query.
const verifyPage = 1000

// Report is the result of Verify.
type Report struct {
	Replicas int     `json:"replicas"` // chains walked
	Records  int64   `json:"records"`  // records checked, up to each chain's first break
	Broken   []Break `json:"broken,omitempty"`
}

// OK reports whether every chain verified.
func (r Report) OK() bool { return len(r.Broken) == 0 }

// Break is the first broken link of one chain.
type Break struct {
	Replica string `json:"replica"`
	ID      int64  `json:"id"`  // the record's row id
	Seq     int64  `json:"seq"` // the record's sequence number in its chain
	Reason  string `json:"reason"`

	// Expected is the hex mac computed from the record's stored fields and
	// the previous record's stored mac; Stored is the mac in the row.
	Expected string `json:"expected_mac"`
	Stored   string `json:"stored_mac"`
}

// Verify walks every replica's chain in seq order and returns the first
// broken link of each. A link is broken when the record's mac does not
// match (its fields or mac were changed), when its prev_mac is not its
// predecessor's mac, or when records before it are missing. Verify returns
// an error only when the database cannot be read.
func Verify(ctx context.Context, db *bun.DB, key []byte) (Report, error) {
	var rep Report
	if len(key) < MinKeyBytes {
		return rep, ErrShortKey
	}
	var replicas []string
	if err := db.NewSelect().Model((*row)(nil)).ColumnExpr("DISTINCT replica").Order("replica").Scan(ctx, &replicas); err != nil {
		return rep, fmt.Errorf("audit: listing chains: %w", err)
	}
	for _, replica := range replicas {
		rep.Replicas++
		n, brk, err := verifyChain(ctx, db, key, replica)
		rep.Records += n
		if err != nil {
			return rep, err
		}
		if brk != nil {
			rep.Broken = append(rep.Broken, *brk)
		}
	}
	return rep, nil
}

// verifyChain checks one chain and returns how many records verified and
// the first break, if any.
func verifyChain(ctx context.Context, db *bun.DB, key []byte, replica string) (int64, *Break, error) {
	var prev [smcrypto.SM3Size]byte
	var checked int64
	next := int64(1)
	for {
		var rows []row
		err := db.NewSelect().Model(&rows).Where("replica = ? AND seq >= ?", replica, next).
			Order("seq").Limit(verifyPage).Scan(ctx)
		if err != nil {
			return checked, nil, fmt.Errorf("audit: reading chain %q from seq %d: %w", replica, next, err)
		}
		for i := range rows {
			r := &rows[i]
			expected := computeMAC(key, prev[:], replica, r.Seq, r.record())
			brk := &Break{Replica: replica, ID: r.ID, Seq: r.Seq, Expected: hex.EncodeToString(expected[:]), Stored: r.MAC}
			stored, derr := hex.DecodeString(r.MAC)
			switch {
			case r.Seq != next:
				brk.Reason = fmt.Sprintf("records with seq %d to %d are missing", next, r.Seq-1)
			case derr != nil || !smcrypto.EqualMAC(stored, expected[:]):
				brk.Reason = "mac mismatch: the record's fields or mac were changed"
			case r.PrevMAC != hex.EncodeToString(prev[:]):
				brk.Reason = "prev_mac does not match the previous record's mac"
			default:
				copy(prev[:], stored)
				checked++
				next++
				continue
			}
			return checked, brk, nil
		}
		if len(rows) < verifyPage {
			return checked, nil, nil
		}
	}
}

// ErrBroken is returned by VerifyCommand when a chain is broken.
var ErrBroken = errors.New("audit: the audit chain is broken")

// VerifyCommand runs `gateway audit-verify`: it verifies every chain and
// prints the report to stdout. args are the command's flags:
//
//	-database-url  the database DSN (postgres://… or a SQLite path), required
//	-key-file      file holding the HMAC-SM3 key in hex, required
//	-json          print the report as JSON
//
// It returns ErrBroken when a chain is broken, so the binary exits
// non-zero, and other errors for bad flags or an unreadable database.
func VerifyCommand(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("audit-verify", flag.ContinueOnError)
	fs.SetOutput(stdout)
	dsn := fs.String("database-url", "", "database DSN: postgres://… or a SQLite file path (required)")
	keyFile := fs.String("key-file", "", "file holding the audit HMAC-SM3 key in hex, at least 32 hex digits (required)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dsn == "" || *keyFile == "" {
		fs.Usage()
		return errors.New("audit-verify: -database-url and -key-file are required")
	}

	key, err := LoadKeyFile(*keyFile)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()

	rep, err := Verify(ctx, db, key)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("audit-verify: writing the report: %w", err)
		}
	} else {
		printReport(stdout, rep)
	}
	if !rep.OK() {
		return ErrBroken
	}
	return nil
}

func printReport(w io.Writer, rep Report) {
	if rep.OK() {
		fmt.Fprintf(w, "audit chain OK: %d chains, %d records\n", rep.Replicas, rep.Records)
		return
	}
	fmt.Fprintf(w, "audit chain BROKEN: %d of %d chains, %d records verified before the breaks\n", len(rep.Broken), rep.Replicas, rep.Records)
	for _, b := range rep.Broken {
		fmt.Fprintf(w, "chain %q: record id %d (seq %d): %s\n  expected mac %s\n  stored mac   %s\n",
			b.Replica, b.ID, b.Seq, b.Reason, b.Expected, b.Stored)
	}
}

// ParseKey decodes a hex HMAC-SM3 key of at least MinKeyBytes bytes.
func ParseKey(s string) ([]byte, error) {
	key, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("audit: the key must be hex digits")
	}
	if len(key) < MinKeyBytes {
		return nil, ErrShortKey
	}
	return key, nil
}

// LoadKeyFile reads a hex key written by an operator, such as the output
// of `openssl rand -hex 32`.
func LoadKeyFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: reading the key file: %w", err)
	}
	key, err := ParseKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return key, nil
}
