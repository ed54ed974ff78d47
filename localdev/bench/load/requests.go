package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jingtong/backend/functions/gateway/envelope"
	"github.com/jingtong/backend/functions/gateway/envelope/client"
	"github.com/jingtong/backend/shared/smcrypto"
)

// requestSet contains the requests of one run, serialized to bytes. A
// set of unique requests hands out each of them once. Otherwise its one
// request repeats.
type requestSet struct {
	wire   [][]byte
	unique bool
}

// get returns request i, or false when a set of unique requests has none
// left.
func (s *requestSet) get(i int64) ([]byte, bool) {
	if !s.unique {
		return s.wire[0], true
	}
	if i >= int64(len(s.wire)) {
		return nil, false
	}
	return s.wire[i], true
}

// builder builds the requests of one mode.
type builder interface {
	// check sends one request the way the run will, outside the clock, and
	// fails unless the server under test responds to it correctly.
	check(ctx context.Context) error
	// build returns the requests of a run: n unique ones, or one request
	// that repeats.
	build(ctx context.Context, n int) (*requestSet, error)
}

// serialize writes a request as HTTP/1.1 bytes with Host and
// Content-Length set from u and body. Header fields are written in sorted
// order.
func serialize(method string, u *url.URL, header http.Header, body []byte) []byte {
	var b bytes.Buffer
	b.Grow(512 + len(body))
	b.WriteString(method + " " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\n")
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for name := range header {
			if !yield(name) {
				return
			}
		}
	}) {
		if name == "Host" || name == "Content-Length" {
			continue
		}
		for _, v := range header[name] {
			b.WriteString(name + ": " + v + "\r\n")
		}
	}
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	b.Write(body)
	return b.Bytes()
}

// parallel calls fn for chunks of [0, n) from one goroutine per CPU and
// returns the first error.
func parallel(n int, fn func(from, to int) error) error {
	workers := runtime.GOMAXPROCS(0)
	chunk := (n + workers - 1) / workers
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		from, to := w*chunk, min((w+1)*chunk, n)
		if from >= to {
			break
		}
		wg.Go(func() { errs[w] = fn(from, to) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// plainBuilder sends the same plaintext POST request each time.
type plainBuilder struct {
	url          *url.URL
	body         []byte
	responseSize int
}

func (b *plainBuilder) header() http.Header {
	return http.Header{"Content-Type": {"application/json"}}
}

func (b *plainBuilder) check(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.url.String(), bytes.NewReader(b.body))
	if err != nil {
		return err
	}
	req.Header = b.header()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("check request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("check request: reading the response: %w", err)
	}
	return checkResponse(resp.StatusCode, body, b.responseSize)
}

func (b *plainBuilder) build(context.Context, int) (*requestSet, error) {
	return &requestSet{wire: [][]byte{serialize(http.MethodPost, b.url, b.header(), b.body)}}, nil
}

// checkResponse fails unless status is 200 and body has size bytes.
func checkResponse(status int, body []byte, size int) error {
	if status != http.StatusOK {
		return fmt.Errorf("check request: status %d, body %q", status, truncate(body, 300))
	}
	if size >= 0 && len(body) != size {
		return fmt.Errorf("check request: response body has %d bytes, expected %d", len(body), size)
	}
	return nil
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// envelopeBuilder sends protected requests in one session, each with its
// own nonce and signature, built with the envelope client's
// PrecomputeRequests.
type envelopeBuilder struct {
	client       *client.Client
	url          *url.URL
	body         []byte
	responseSize int
}

func newEnvelopeBuilder(openURL string, kid string, pub *smcrypto.PublicKey, target *url.URL, body []byte, responseSize int) (*envelopeBuilder, error) {
	c, err := client.New(client.Config{
		OpenURL:    openURL,
		KeyID:      kid,
		PublicKeys: map[string]*smcrypto.PublicKey{kid: pub},
	})
	if err != nil {
		return nil, err
	}
	return &envelopeBuilder{client: c, url: target, body: body, responseSize: responseSize}, nil
}

func (b *envelopeBuilder) header() http.Header {
	return http.Header{"Content-Type": {"application/json"}}
}

// check opens the session and sends one protected request through
// net/http, then verifies and decrypts the response.
func (b *envelopeBuilder) check(ctx context.Context) error {
	if _, err := b.client.Session(ctx); err != nil {
		return fmt.Errorf("opening the session: %w", err)
	}
	prepared, err := b.client.PrecomputeRequests(ctx, 1, http.MethodPost, b.url.String(), b.header(), b.body)
	if err != nil {
		return err
	}
	req, err := prepared[0].NewRequest(ctx)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req) //nolint:bodyclose // VerifyResponse closes it
	if err != nil {
		return fmt.Errorf("check request: %w", err)
	}
	verified, err := prepared[0].VerifyResponse(resp)
	if err != nil {
		return fmt.Errorf("check request: %w", err)
	}
	defer verified.Body.Close()
	plaintext, err := io.ReadAll(verified.Body)
	if err != nil {
		return err
	}
	return checkResponse(verified.StatusCode, plaintext, b.responseSize)
}

func (b *envelopeBuilder) build(ctx context.Context, n int) (*requestSet, error) {
	wire := make([][]byte, n)
	err := parallel(n, func(from, to int) error {
		prepared, err := b.client.PrecomputeRequests(ctx, to-from, http.MethodPost, b.url.String(), b.header(), b.body)
		if err != nil {
			return err
		}
		for i, p := range prepared {
			wire[from+i] = serialize(p.Method, b.url, p.Header, p.Body)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("precomputing protected requests: %w", err)
	}
	return &requestSet{wire: wire, unique: true}, nil
}

// openBuilder sends session-open requests, each with its own key material
// encrypted to the gateway key, nonce and timestamp.
type openBuilder struct {
	url    *url.URL
	kid    string
	pub    *smcrypto.PublicKey
	client *client.Client
}

func newOpenBuilder(openURL *url.URL, kid string, pub *smcrypto.PublicKey) (*openBuilder, error) {
	c, err := client.New(client.Config{
		OpenURL:    openURL.String(),
		KeyID:      kid,
		PublicKeys: map[string]*smcrypto.PublicKey{kid: pub},
	})
	if err != nil {
		return nil, err
	}
	return &openBuilder{url: openURL, kid: kid, pub: pub, client: c}, nil
}

// check opens one session with the envelope client, which verifies the
// gateway's signature on the response.
func (b *openBuilder) check(ctx context.Context) error {
	if _, err := b.client.Open(ctx); err != nil {
		return fmt.Errorf("check session open: %w", err)
	}
	return nil
}

func (b *openBuilder) build(_ context.Context, n int) (*requestSet, error) {
	header := http.Header{"Content-Type": {"application/json"}}
	wire := make([][]byte, n)
	err := parallel(n, func(from, to int) error {
		secret := make([]byte, envelope.SecretSize)
		for i := from; i < to; i++ {
			if _, err := rand.Read(secret); err != nil {
				return err
			}
			ciphertext, err := smcrypto.Encrypt(rand.Reader, b.pub, secret, &smcrypto.EncrypterOpts{OmitPrefix: true})
			if err != nil {
				return err
			}
			var nonce envelope.Nonce
			if _, err := rand.Read(nonce[:]); err != nil {
				return err
			}
			body, err := json.Marshal(envelope.OpenRequest{
				KID:   b.kid,
				Key:   hex.EncodeToString(ciphertext),
				Modes: envelope.DefaultModes,
				TS:    time.Now().UnixMilli(),
				Nonce: nonce.String(),
			})
			if err != nil {
				return err
			}
			wire[i] = serialize(http.MethodPost, b.url, header, body)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("precomputing session-open requests: %w", err)
	}
	return &requestSet{wire: wire, unique: true}, nil
}
