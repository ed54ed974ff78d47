package gateway

import (
	"net/http"

	"github.com/jingtong/backend/shared/httpx"
)

// Error codes of the gateway assembly. The envelope, identity, route and
// ratelimit packages define the codes of their own steps.
var (
	// CodeEnvelopeRequired rejects a plaintext request to an identified
	// route, and a request to close a session that carries no session.
	CodeEnvelopeRequired = httpx.NewCode("ENVELOPE_REQUIRED", http.StatusUnauthorized,
		"此接口只接受加密会话中的请求：请先建立会话，再按传输信封协议签名并加密请求",
		"this API accepts only requests in a protected session; open a session, then sign and encrypt the request as the envelope protocol describes")

	// CodeSessionSubjectMismatch rejects a token for another user than the
	// one bound to the session.
	CodeSessionSubjectMismatch = httpx.NewCode("SESSION_SUBJECT_MISMATCH", http.StatusUnauthorized,
		"该会话已绑定其他用户，请为当前用户重新建立会话",
		"the session is bound to another user; open a new session for this user")
)

// bearerChallenge is the WWW-Authenticate value of a 401 for a missing
// token, as RFC 6750, section 3 describes it.
const bearerChallenge = `Bearer realm="jingtong"`
