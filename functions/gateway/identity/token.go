package identity

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jingtong/backend/shared/auth"
)

// Token format constants.
const (
	// Algorithm is the only accepted "alg": SM2 signatures with SM3 digests.
	Algorithm = "SM2-SM3"
	// TokenType is the only accepted "typ".
	TokenType = "JT"

	// MaxTokenSize is the longest token in bytes. A token for a user with
	// the largest claims that auth allows stays well below it.
	MaxTokenSize = 4096
	// MaxIssuerSize and MaxAudienceSize bound the iss and aud claims in
	// bytes.
	MaxIssuerSize   = 256
	MaxAudienceSize = 256
	// MaxTokenIDSize bounds the jti claim in bytes.
	MaxTokenIDSize = 128

	maxHeaderSize = 256 // decoded header JSON
	maxClaimsSize = 2048
	// maxSignatureSize is the longest DER SM2 signature: a SEQUENCE of two
	// INTEGERs of up to 33 bytes each.
	maxSignatureSize = 72
)

// b64 is the token segment encoding: base64url without padding, rejecting
// non-zero trailing bits so that every segment has one encoding.
var b64 = base64.RawURLEncoding.Strict()

// Header is the first segment of a token.
type Header struct {
	Alg string `json:"alg"`
	KID string `json:"kid"`
	Typ string `json:"typ"`
}

// Claims is the second segment of a token.
type Claims struct {
	Issuer    string      `json:"iss"`
	Subject   string      `json:"sub"`
	Audience  string      `json:"aud"`
	Roles     []auth.Role `json:"roles"`
	ExpiresAt int64       `json:"exp"`
	NotBefore int64       `json:"nbf"`
	IssuedAt  int64       `json:"iat"`
	ID        string      `json:"jti"`
	Channel   string      `json:"channel,omitempty"`
	App       string      `json:"app,omitempty"`
}

// Identity returns the identity that the claims describe.
func (c *Claims) Identity() *auth.Identity {
	return &auth.Identity{Subject: c.Subject, Roles: c.Roles, Channel: c.Channel, App: c.App}
}

// parsedToken is a token split into its parts but not yet verified.
type parsedToken struct {
	header       Header
	signingInput string // "header.claims" as sent
	claims       []byte // decoded claims JSON, parsed only after verification
	signature    []byte
}

// parseToken splits token and decodes its header and signature. The claims
// stay undecoded until the signature has been verified.
func parseToken(token string) (*parsedToken, error) {
	if len(token) > MaxTokenSize {
		return nil, fmt.Errorf("token has %d bytes; the maximum is %d", len(token), MaxTokenSize)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("token has %d segments; expected 3", len(parts))
	}

	headerJSON, err := decodeSegment("header", parts[0], maxHeaderSize)
	if err != nil {
		return nil, err
	}
	claims, err := decodeSegment("claims", parts[1], maxClaimsSize)
	if err != nil {
		return nil, err
	}
	signature, err := decodeSegment("signature", parts[2], maxSignatureSize)
	if err != nil {
		return nil, err
	}

	header, err := parseHeader(headerJSON)
	if err != nil {
		return nil, err
	}
	return &parsedToken{header: header, signingInput: parts[0] + "." + parts[1], claims: claims, signature: signature}, nil
}

func decodeSegment(name, segment string, maxSize int) ([]byte, error) {
	if segment == "" {
		return nil, fmt.Errorf("token %s is empty", name)
	}
	if b64.DecodedLen(len(segment)) > maxSize {
		return nil, fmt.Errorf("token %s is longer than %d bytes", name, maxSize)
	}
	data, err := b64.DecodeString(segment)
	if err != nil {
		return nil, fmt.Errorf("token %s is not unpadded base64url", name)
	}
	return data, nil
}

func parseHeader(data []byte) (Header, error) {
	var h Header
	fields := map[string]any{"alg": &h.Alg, "kid": &h.KID, "typ": &h.Typ}
	if err := decodeObject("header", data, fields, []string{"alg", "kid", "typ"}, false); err != nil {
		return Header{}, err
	}
	if h.Alg != Algorithm {
		return Header{}, fmt.Errorf("token algorithm %q is not accepted; expected %q", h.Alg, Algorithm)
	}
	if h.Typ != TokenType {
		return Header{}, fmt.Errorf("token type %q is not accepted; expected %q", h.Typ, TokenType)
	}
	return h, nil
}

// parseClaims decodes the claims JSON and checks that every claim is
// present and well formed. Time and audience checks are the Verifier's.
func parseClaims(data []byte) (*Claims, error) {
	var c Claims
	fields := map[string]any{
		"iss": &c.Issuer, "sub": &c.Subject, "aud": &c.Audience, "roles": &c.Roles,
		"exp": &c.ExpiresAt, "nbf": &c.NotBefore, "iat": &c.IssuedAt, "jti": &c.ID,
		"channel": &c.Channel, "app": &c.App,
	}
	if err := decodeObject("claims", data, fields, requiredClaims, true); err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// requiredClaims must appear in every token; channel and app are optional.
var requiredClaims = []string{"iss", "sub", "aud", "roles", "exp", "nbf", "iat", "jti"}

func (c *Claims) validate() error {
	switch {
	case c.Issuer == "" || len(c.Issuer) > MaxIssuerSize:
		return fmt.Errorf("claim iss must have 1 to %d bytes", MaxIssuerSize)
	case c.Audience == "" || len(c.Audience) > MaxAudienceSize:
		return fmt.Errorf("claim aud must have 1 to %d bytes", MaxAudienceSize)
	case c.ID == "" || len(c.ID) > MaxTokenIDSize:
		return fmt.Errorf("claim jti must have 1 to %d bytes", MaxTokenIDSize)
	case c.ExpiresAt <= 0 || c.NotBefore <= 0 || c.IssuedAt <= 0:
		return errors.New("claims exp, nbf and iat must be positive Unix seconds")
	case c.ExpiresAt <= c.NotBefore:
		return errors.New("claim exp is not after nbf")
	}
	if err := c.Identity().Validate(); err != nil {
		return fmt.Errorf("token identity: %w", err)
	}
	return nil
}

// decodeObject decodes a JSON object whose members go into fields, by exact
// key, and checks that every key in required is present. It rejects
// repeated keys, null values and data after the object. Unknown keys are an
// error unless allowUnknown is set. Claims allow them so that a newer issuer
// can add claims without breaking older verifiers.
func decodeObject(what string, data []byte, fields map[string]any, required []string, allowUnknown bool) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("token %s is not a JSON object", what)
	}

	seen := make(map[string]bool, len(fields))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("token %s is not valid JSON", what)
		}
		key, _ := tok.(string)
		if seen[key] {
			return fmt.Errorf("token %s has key %q twice", what, key)
		}
		seen[key] = true

		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("token %s is not valid JSON", what)
		}
		target, known := fields[key]
		if !known {
			if allowUnknown {
				continue
			}
			return fmt.Errorf("token %s has unknown member %q", what, key)
		}
		if bytes.Equal(raw, []byte("null")) {
			return fmt.Errorf("token %s member %q is null", what, key)
		}
		if err := json.Unmarshal(raw, target); err != nil {
			return fmt.Errorf("token %s member %q has the wrong type", what, key)
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return fmt.Errorf("token %s is not valid JSON", what)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("token %s has data after the JSON object", what)
	}

	for _, key := range required {
		if !seen[key] {
			return fmt.Errorf("token %s has no %q", what, key)
		}
	}
	return nil
}
