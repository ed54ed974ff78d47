package smcrypto

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Defaults of a RemoteProvider.
const (
	// DefaultRemoteTimeout bounds each request to the key service.
	DefaultRemoteTimeout = 5 * time.Second
	// DefaultRefreshInterval is how long a key listing is reused.
	DefaultRefreshInterval = 30 * time.Second
	// maxRemoteResponseSize bounds the response bodies read from the service.
	maxRemoteResponseSize = 1 << 20
)

// Error codes of the remote key service protocol.
const (
	remoteCodeKeyNotFound      = "KEY_NOT_FOUND"
	remoteCodeDecryptionFailed = "DECRYPTION_FAILED"
)

// RemoteProvider is a KeyProvider whose private keys are held by a remote key
// service, such as a certified crypto device or a cloud crypto service,
// reached through the HTTP JSON protocol in the package documentation. It
// caches the key listing for the refresh interval and verifies every
// signature it receives. It is safe for concurrent use.
type RemoteProvider struct {
	base            *url.URL
	token           string
	client          *http.Client
	timeout         time.Duration
	refreshInterval time.Duration
	now             func() time.Time

	mu        sync.Mutex
	listing   *KeyList
	keys      map[string]*PublicKey
	signingID string
	fetchedAt time.Time
}

// RemoteOption configures a RemoteProvider.
type RemoteOption func(*RemoteProvider)

// WithHTTPClient sets the HTTP client. The default client follows no
// redirects.
func WithHTTPClient(c *http.Client) RemoteOption {
	return func(p *RemoteProvider) { p.client = c }
}

// WithTimeout sets the time limit of each request. The default is
// DefaultRemoteTimeout.
func WithTimeout(d time.Duration) RemoteOption {
	return func(p *RemoteProvider) { p.timeout = d }
}

// WithRefreshInterval sets how long a key listing is reused before the next
// lookup fetches it again. A lookup of an unknown key ID also waits for the
// interval to pass. The default is DefaultRefreshInterval.
func WithRefreshInterval(d time.Duration) RemoteOption {
	return func(p *RemoteProvider) { p.refreshInterval = d }
}

// WithNow sets the clock. The default is time.Now.
func WithNow(now func() time.Time) RemoteOption {
	return func(p *RemoteProvider) { p.now = now }
}

// NewRemoteProvider returns a provider for the key service at baseURL, which
// authenticates with the bearer token. baseURL must use https, or http on a
// loopback address (127.0.0.0/8, ::1 or localhost) for local stand-ins, so
// that the token never crosses a network in clear text.
func NewRemoteProvider(baseURL, token string, opts ...RemoteOption) (*RemoteProvider, error) {
	base, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("smcrypto: invalid key service URL: %w", err)
	}
	if base.Scheme != "https" && (base.Scheme != "http" || !isLoopbackHost(base.Hostname())) {
		return nil, fmt.Errorf("smcrypto: key service URL %q must use https, or http on a loopback address", baseURL)
	}
	if base.Host == "" || base.RawQuery != "" || base.Fragment != "" || base.User != nil {
		return nil, fmt.Errorf("smcrypto: key service URL %q must have a host and no user, query or fragment", baseURL)
	}
	if token == "" {
		return nil, errors.New("smcrypto: key service token is empty")
	}

	p := &RemoteProvider{
		base:            base,
		token:           token,
		client:          &http.Client{CheckRedirect: noRedirects},
		timeout:         DefaultRemoteTimeout,
		refreshInterval: DefaultRefreshInterval,
		now:             time.Now,
	}
	for _, opt := range opts {
		opt(p)
	}
	if p.client == nil || p.now == nil || p.timeout <= 0 || p.refreshInterval < 0 {
		return nil, errors.New("smcrypto: invalid remote provider options: the client and clock must be set, the timeout positive and the refresh interval not negative")
	}
	return p, nil
}

func noRedirects(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// String returns the service URL. The token is never printed.
func (p *RemoteProvider) String() string {
	return "smcrypto.RemoteProvider(" + p.base.String() + ")"
}

// GoString returns the same as String.
func (p *RemoteProvider) GoString() string { return p.String() }

// LogValue returns the service URL. The token is never logged.
func (p *RemoteProvider) LogValue() slog.Value { return slog.StringValue(p.base.String()) }

// Key returns the key with ID kid, fetching the key listing if it is older
// than the refresh interval. It returns an error wrapping ErrKeyNotFound when
// the listing has no such key.
func (p *RemoteProvider) Key(ctx context.Context, kid string) (Key, error) {
	if err := ValidateKeyID(kid); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyNotFound, err)
	}
	keys, _, _, err := p.current(ctx)
	if err != nil {
		return nil, err
	}
	pub, ok := keys[kid]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrKeyNotFound, kid)
	}
	return &remoteKey{provider: p, id: kid, pub: pub}, nil
}

// SigningKey returns the key that the listing marks as signing.
func (p *RemoteProvider) SigningKey(ctx context.Context) (Key, error) {
	keys, signingID, _, err := p.current(ctx)
	if err != nil {
		return nil, err
	}
	return &remoteKey{provider: p, id: signingID, pub: keys[signingID]}, nil
}

// PublicKeys returns the service's key listing.
func (p *RemoteProvider) PublicKeys(ctx context.Context) (*KeyList, error) {
	_, _, listing, err := p.current(ctx)
	if err != nil {
		return nil, err
	}
	return &KeyList{Keys: append([]KeyInfo(nil), listing.Keys...)}, nil
}

// current returns the cached key listing, fetching it first if there is
// none or it is older than the refresh interval. Callers wait for one fetch
// at a time.
func (p *RemoteProvider) current(ctx context.Context) (map[string]*PublicKey, string, *KeyList, error) {
	p.mu.Lock()
	defer p.mu.Unlock()

	if p.listing != nil && p.now().Sub(p.fetchedAt) < p.refreshInterval {
		return p.keys, p.signingID, p.listing, nil
	}

	var listing KeyList
	if err := p.do(ctx, "list keys", "", http.MethodGet, []string{"v1", "keys"}, nil, &listing); err != nil {
		return nil, "", nil, err
	}
	keys, signingID, err := listing.parse()
	if err != nil {
		return nil, "", nil, fmt.Errorf("smcrypto: invalid key listing from %s: %w", p.base.Redacted(), err)
	}

	p.listing, p.keys, p.signingID, p.fetchedAt = &listing, keys, signingID, p.now()
	return keys, signingID, &listing, nil
}

type remoteErrorBody struct {
	Error struct {
		Code string `json:"code"`
	} `json:"error"`
}

// do sends one request and decodes a 200 response into out. It maps 404 to
// ErrKeyNotFound and a 422 DECRYPTION_FAILED to ErrDecrypt.
func (p *RemoteProvider) do(ctx context.Context, op, kid, method string, path []string, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	what := "remote " + op
	if kid != "" {
		what += fmt.Sprintf(" for key %q", kid)
	}

	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("smcrypto: encoding %s request: %w", what, err)
		}
		body = bytes.NewReader(data)
	}

	req, err := http.NewRequestWithContext(ctx, method, p.base.JoinPath(path...).String(), body)
	if err != nil {
		return fmt.Errorf("smcrypto: creating %s request: %w", what, err)
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("smcrypto: %s: %w", what, err)
	}
	defer resp.Body.Close()

	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRemoteResponseSize+1))
	if err != nil {
		return fmt.Errorf("smcrypto: reading %s response: %w", what, err)
	}
	if len(data) > maxRemoteResponseSize {
		return fmt.Errorf("smcrypto: %s response exceeds %d bytes", what, maxRemoteResponseSize)
	}

	if resp.StatusCode != http.StatusOK {
		return remoteStatusError(op, kid, resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("smcrypto: decoding %s response: %w", what, err)
	}
	return nil
}

func remoteStatusError(op, kid string, status int, data []byte) error {
	var errBody remoteErrorBody
	_ = json.Unmarshal(data, &errBody) // the code is optional
	code := errBody.Error.Code

	switch {
	case status == http.StatusNotFound:
		return fmt.Errorf("%w: %q (remote %s)", ErrKeyNotFound, kid, op)
	case status == http.StatusUnprocessableEntity && code == remoteCodeDecryptionFailed:
		return ErrDecrypt
	}
	return &RemoteError{Op: op, KID: kid, StatusCode: status, Code: code}
}

type remoteKey struct {
	provider *RemoteProvider
	id       string
	pub      *PublicKey
}

type signMessageRequest struct {
	Message []byte `json:"message"`
	UserID  []byte `json:"user_id"`
}

type signDigestRequest struct {
	Digest []byte `json:"digest"`
}

type signResponse struct {
	Signature []byte `json:"signature"`
}

type decryptRequest struct {
	Ciphertext []byte `json:"ciphertext"`
}

type decryptResponse struct {
	Plaintext []byte `json:"plaintext"`
}

func (k *remoteKey) ID() string            { return k.id }
func (k *remoteKey) PublicKey() *PublicKey { return k.pub }

func (k *remoteKey) SignMessage(ctx context.Context, msg []byte, opts *SignerOpts) ([]byte, error) {
	digest, err := Digest(k.pub, msg, opts)
	if err != nil {
		return nil, err
	}

	// A nil slice would encode as null, but the protocol wants "" for an
	// empty message.
	req := signMessageRequest{Message: append([]byte{}, msg...), UserID: opts.uid()}
	return k.sign(ctx, req, digest)
}

func (k *remoteKey) SignDigest(ctx context.Context, digest []byte) ([]byte, error) {
	if len(digest) != SM3Size {
		return nil, fmt.Errorf("smcrypto: SM2 digest has %d bytes; expected %d", len(digest), SM3Size)
	}
	return k.sign(ctx, signDigestRequest{Digest: digest}, digest)
}

// sign sends req and checks the returned signature against digest, so that a
// faulty or impersonated service cannot pass on a bad signature.
func (k *remoteKey) sign(ctx context.Context, req any, digest []byte) ([]byte, error) {
	var resp signResponse
	if err := k.provider.do(ctx, "sign", k.id, http.MethodPost, []string{"v1", "keys", k.id, "sign"}, req, &resp); err != nil {
		return nil, err
	}
	if !VerifyDigestASN1(k.pub, digest, resp.Signature) {
		return nil, fmt.Errorf("smcrypto: signature from the remote key service for key %q does not verify", k.id)
	}
	return resp.Signature, nil
}

func (k *remoteKey) Decrypt(ctx context.Context, ciphertext []byte, opts *DecrypterOpts) ([]byte, error) {
	format, err := decrypterFormat(opts)
	if err != nil {
		return nil, err
	}
	standard, err := standardCiphertext(ciphertext, format)
	if err != nil {
		return nil, ErrDecrypt
	}

	var resp decryptResponse
	req := decryptRequest{Ciphertext: standard}
	if err := k.provider.do(ctx, "decrypt", k.id, http.MethodPost, []string{"v1", "keys", k.id, "decrypt"}, req, &resp); err != nil {
		return nil, err
	}
	if len(resp.Plaintext) == 0 {
		return nil, fmt.Errorf("smcrypto: remote decrypt response for key %q has no plaintext", k.id)
	}
	return resp.Plaintext, nil
}
