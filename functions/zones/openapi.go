package zones

import (
	_ "embed"
	"net/http"
	"strconv"
)

// openAPIDocument is the OpenAPI 3.0 description of every route.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the function's OpenAPI 3.0 document.
func OpenAPI() []byte {
	return append([]byte(nil), openAPIDocument...)
}

var openAPILength = []string{strconv.Itoa(len(openAPIDocument))}

func (s *server) handleOpenAPI(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = openAPILength
	h.Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDocument)
}
