package zones

import (
	"math"
	"net/http"
	"strconv"

	"github.com/jingtong/backend/shared/httpx"
)

// maxInt64Text is math.MaxInt64 as messages show it. It is the largest
// version number, because versions are Go int64 values in PostgreSQL
// bigint columns.
var maxInt64Text = strconv.FormatInt(math.MaxInt64, 10)

// tooLargeDetail is the problem of a number above math.MaxInt64 in the
// query parameter name. It reads as httpx.DecodeJSON's detail for a body
// field above its range.
func tooLargeDetail(name string) httpx.Detail {
	return httpx.Detail{Path: name, Reason: "out_of_range",
		ZH: "数值过大，最大为 " + maxInt64Text, EN: "is too large; the maximum is " + maxInt64Text}
}

// decode reads a JSON request body into v within the configured limit.
func (s *server) decode(r *http.Request, v any) error {
	return httpx.DecodeJSON(r, v, s.cfg.MaxBody)
}
