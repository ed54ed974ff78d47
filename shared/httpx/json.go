package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"sync"
)

// DefaultMaxBody is the request body limit used when a handler names none:
// 1 MiB, enough for the largest page document the zones function accepts.
const DefaultMaxBody = 1 << 20

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// WriteJSON writes v as a JSON response with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)

	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only a programming error (an unsupported type) gets here.
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":{"code":"INTERNAL","message":"internal server error"}}` + "\n")
	}

	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorBody struct {
	Error errorPayload `json:"error"`
}

type errorPayload struct {
	Code      string          `json:"code"`
	Message   string          `json:"message"`
	RequestID string          `json:"request_id,omitempty"`
	Details   []renderedError `json:"details,omitempty"`
}

type renderedError struct {
	Path    string `json:"path"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// WriteError writes err as an error response in the request's language.
// Internal errors are logged with their cause at Error level; client errors
// at Debug. The logger may be nil.
func WriteError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	e := AsError(err)
	id := RequestID(r.Context())
	if e.Code.ID == CodeInternal.ID {
		e = &Error{Code: CodeInternal, Args: []any{id}, Err: e.Err}
	}

	if logger != nil {
		level := slog.LevelDebug
		if e.Code.Status >= 500 {
			level = slog.LevelError
		}
		logger.Log(r.Context(), level, "request failed",
			"code", e.Code.ID, "status", e.Code.Status, "request_id", id, "err", e)
	}

	lang := Lang(r)
	body := errorBody{Error: errorPayload{Code: e.Code.ID, Message: e.Message(lang), RequestID: id}}
	for _, d := range e.Details {
		msg := d.ZH
		if lang == "en" {
			msg = d.EN
		}
		body.Error.Details = append(body.Error.Details, renderedError{Path: d.Path, Reason: d.Reason, Message: msg})
	}
	if e.Code.Status == http.StatusMethodNotAllowed && w.Header().Get("Allow") == "" {
		w.Header().Set("Allow", "GET, HEAD")
	}
	WriteJSON(w, e.Code.Status, body)
}

// DecodeJSON reads a JSON request body into v. It requires a JSON content
// type (415), limits the body to maxBytes (413; 0 means DefaultMaxBody),
// rejects unknown fields and trailing data (400) and returns *Error values
// ready for WriteError.
func DecodeJSON(r *http.Request, v any, maxBytes int64) error {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBody
	}
	if err := requireJSON(r); err != nil {
		return err
	}

	body, err := ReadBody(r, maxBytes)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return E(CodeInvalidJSON, jsonErrorText(err))
	}
	// Decoder.More misses a stray "}" or "]", so check the rest by hand.
	if len(bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n")) > 0 {
		return E(CodeInvalidJSON, "trailing data after the JSON value")
	}
	return nil
}

// ReadBody reads at most maxBytes of the request body and returns a 413
// *Error when the body is larger.
func ReadBody(r *http.Request, maxBytes int64) ([]byte, error) {
	if r.ContentLength > maxBytes {
		return nil, E(CodeBodyTooLarge, maxBytes)
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBytes+1))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, E(CodeBodyTooLarge, min(maxBytes, tooLarge.Limit))
	}
	if err != nil {
		return nil, E(CodeInvalidJSON, "could not read the request body")
	}
	if int64(len(data)) > maxBytes {
		return nil, E(CodeBodyTooLarge, maxBytes)
	}
	return data, nil
}

func requireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	mediaType, _, err := mime.ParseMediaType(ct)
	if err != nil || mediaType != "application/json" {
		return E(CodeUnsupportedMediaType, ct)
	}
	return nil
}

func jsonErrorText(err error) string {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return "syntax error at byte " + strconv.FormatInt(syntax.Offset, 10)
	case errors.As(err, &typeErr):
		return "field " + strconv.Quote(typeErr.Field) + " must be " + typeErr.Type.String()
	case errors.Is(err, io.EOF):
		return "empty body"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated body"
	}
	// The remaining decoder errors, such as unknown fields, name the field and
	// contain no request data beyond it.
	return err.Error()
}
