package envelope

import (
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/shared/smcrypto"
)

// Lengths of the key field of a session-open request, in hex characters:
// the SM2 ciphertext of SecretSize bytes in C1C3C2 order, without the 04
// byte (as sm-crypto's doEncrypt writes it) or with it.
const (
	keyCiphertextSize     = 64 + smcrypto.SM3Size + SecretSize
	openKeyHexLen         = 2 * keyCiphertextSize
	openKeyHexLenPrefixed = 2 * (1 + keyCiphertextSize)
	// maxOpenModes bounds the modes list of a session-open request.
	maxOpenModes = 8
)

// OpenRequest is the JSON body of a session-open request.
type OpenRequest struct {
	// KID is the ID of the gateway key that Key is encrypted to.
	KID string `json:"kid"`
	// Key is the SM2 ciphertext (C1C3C2) of 32 random bytes of key material
	// in hex, with or without the 04 byte before C1.
	Key string `json:"key"`
	// Modes are the modes the client supports, in order of preference.
	Modes []Mode `json:"modes"`
	// TS is the client's time in Unix milliseconds.
	TS int64 `json:"ts"`
	// Nonce is 16 random bytes in 32 lowercase hex characters.
	Nonce string `json:"nonce"`
}

// OpenResponse is the JSON body of the response to a session-open request.
type OpenResponse struct {
	// SessionID is the new session's ID for X-JT-Session.
	SessionID string `json:"session_id"`
	// ExpiresAt is when the session expires, in Unix milliseconds.
	ExpiresAt int64 `json:"expires_at"`
	// Mode is the mode the gateway chose from the request's modes.
	Mode Mode `json:"mode"`
	// KID is the ID of the gateway key that made Sig.
	KID string `json:"kid"`
	// Sig is the gateway's SM2 signature in DER, in hex, of the string that
	// AppendSessionString builds, with the default user ID.
	Sig string `json:"sig"`
}

// OpenSession is the session-open handler: it decrypts the client's key
// material, derives the session keys, stores the session and responds with
// an OpenResponse signed by the gateway's signing key. Routes should send
// it POST requests only.
func (s *Server) OpenSession(w http.ResponseWriter, r *http.Request) {
	resp, err := s.openSession(r)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, resp)
}

func (s *Server) openSession(r *http.Request) (*OpenResponse, error) {
	ctx := r.Context()

	var req OpenRequest
	if err := httpx.DecodeJSON(r, &req, maxOpenBody); err != nil {
		return nil, err
	}
	mode, err := s.validateOpen(&req)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if err := s.checkTimestamp(time.UnixMilli(req.TS), now); err != nil {
		return nil, err
	}

	// Decrypt the key material. Every decryption failure returns the same
	// ENVELOPE_INVALID error.
	key, err := s.keys.Key(ctx, req.KID)
	if errors.Is(err, smcrypto.ErrKeyNotFound) {
		return nil, httpx.E(CodeUnknownKeyID, req.KID)
	}
	if err != nil {
		return nil, s.dependencyError(ctx, "find key", err)
	}
	ciphertext, _ := hex.DecodeString(req.Key)
	secret, err := key.Decrypt(ctx, ciphertext, nil)
	defer clear(secret)
	if errors.Is(err, smcrypto.ErrDecrypt) || (err == nil && len(secret) != SecretSize) {
		return nil, httpx.E(CodeEnvelopeInvalid)
	}
	if err != nil {
		return nil, s.dependencyError(ctx, "decrypt key material", err)
	}

	nonce, _ := ParseNonce(req.Nonce)
	fresh, err := s.nonces.Claim(ctx, SessionID{}, nonce, s.nonceTTL())
	if err != nil {
		return nil, s.dependencyError(ctx, "claim nonce", err)
	}
	if !fresh {
		return nil, httpx.E(CodeNonceReplayed)
	}

	sess, err := s.newSession(secret, mode, req.KID, now)
	if err != nil {
		return nil, httpx.Wrap(httpx.CodeInternal, err)
	}
	resp, err := s.signOpen(r, sess, &req)
	if err != nil {
		return nil, err
	}
	if err := s.sessions.Put(ctx, sess); err != nil {
		return nil, s.dependencyError(ctx, "store session", err)
	}
	return resp, nil
}

// validateOpen checks the fields of req and returns the mode to use: the
// first of the client's modes that the gateway accepts.
func (s *Server) validateOpen(req *OpenRequest) (Mode, error) {
	var details []httpx.Detail
	if smcrypto.ValidateKeyID(req.KID) != nil {
		details = append(details, httpx.Detail{Path: "/kid", Reason: "invalid",
			ZH: "密钥编号须为 1 至 64 个字母、数字或 . _ -", EN: "the key ID must be 1 to 64 letters, digits, '.', '_' or '-'"})
	}
	if !validKeyHex(req.Key) {
		details = append(details, httpx.Detail{Path: "/key", Reason: "invalid",
			ZH: "须为 32 字节密钥材料的 SM2 密文（C1C3C2）的十六进制，长 256 个字符（带 04 前缀时 258 个）",
			EN: "must be the SM2 ciphertext (C1C3C2) of 32 bytes of key material in hex: 256 characters, or 258 with the 04 prefix"})
	}
	if req.TS <= 0 {
		details = append(details, httpx.Detail{Path: "/ts", Reason: "invalid",
			ZH: "须为正的 Unix 毫秒时间戳", EN: "must be a positive Unix time in milliseconds"})
	}
	if _, err := ParseNonce(req.Nonce); err != nil {
		details = append(details, httpx.Detail{Path: "/nonce", Reason: "invalid",
			ZH: "须为 16 个随机字节的小写十六进制（32 个字符）", EN: "must be 16 random bytes in lowercase hex (32 characters)"})
	}

	mode := s.chooseMode(req.Modes)
	if mode == "" {
		details = append(details, httpx.Detail{Path: "/modes", Reason: "unsupported",
			ZH: "须列出至少一种网关支持的模式：gcm 或 cbc-hmac（最多 8 项）",
			EN: "must list at least one mode the gateway supports, gcm or cbc-hmac (at most 8 entries)"})
	}
	if len(details) > 0 {
		return "", httpx.E(httpx.CodeInvalidRequest).WithDetails(details...)
	}
	return mode, nil
}

func validKeyHex(s string) bool {
	if len(s) != openKeyHexLen && len(s) != openKeyHexLenPrefixed {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

// chooseMode returns the first of the client's modes that the gateway
// accepts, or "" when there is none. Unknown modes are skipped, so that a
// newer client can offer modes this gateway does not know.
func (s *Server) chooseMode(offered []Mode) Mode {
	if len(offered) > maxOpenModes {
		return ""
	}
	for _, m := range offered {
		for _, accepted := range s.modes {
			if m == accepted {
				return m
			}
		}
	}
	return ""
}

// newSession makes a session with a random ID and keys derived from
// secret, expiring SessionTTL after now.
func (s *Server) newSession(secret []byte, mode Mode, kid string, now time.Time) (*Session, error) {
	var id SessionID
	if _, err := io.ReadFull(s.rand, id[:]); err != nil {
		return nil, err
	}
	keys, err := DeriveKeys(secret, id, mode)
	if err != nil {
		return nil, err
	}
	created := time.UnixMilli(now.UnixMilli())
	return &Session{
		ID:        id,
		Mode:      mode,
		KID:       kid,
		CreatedAt: created,
		ExpiresAt: created.Add(s.sessionTTL),
		keys:      keys,
	}, nil
}

// signOpen builds the response to req for sess and signs it with the
// signing key.
func (s *Server) signOpen(r *http.Request, sess *Session, req *OpenRequest) (*OpenResponse, error) {
	ctx := r.Context()
	signer, err := s.keys.SigningKey(ctx)
	if err != nil {
		return nil, s.dependencyError(ctx, "find signing key", err)
	}

	fields := SessionFields{
		SessionID: sess.ID.String(),
		ExpiresAt: sess.ExpiresAt.UnixMilli(),
		Mode:      sess.Mode,
		KID:       signer.ID(),
		Timestamp: req.TS,
		Nonce:     req.Nonce,
		KeySM3:    smcrypto.SumSM3([]byte(req.Key)),
	}
	sig, err := signer.SignMessage(ctx, AppendSessionString(nil, &fields), nil)
	if err != nil {
		return nil, s.dependencyError(ctx, "sign session", err)
	}
	return &OpenResponse{
		SessionID: fields.SessionID,
		ExpiresAt: fields.ExpiresAt,
		Mode:      fields.Mode,
		KID:       fields.KID,
		Sig:       hex.EncodeToString(sig),
	}, nil
}
