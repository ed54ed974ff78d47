package page

import (
	"fmt"
	"strconv"
	"strings"
)

// Code is the stable, machine-readable kind of a Problem. Clients branch on
// it, because the wording of messages may change.
type Code string

// Problem codes. The package comment describes when each is reported.
const (
	CodeTooLarge           Code = "too_large"
	CodeInvalidJSON        Code = "invalid_json"
	CodeInvalidText        Code = "invalid_text"
	CodeDuplicateKey       Code = "duplicate_key"
	CodeTooDeep            Code = "too_deep"
	CodeTooManyNodes       Code = "too_many_nodes"
	CodeSchema             Code = "schema"
	CodeInvalidRoot        Code = "invalid_root"
	CodeNestedPage         Code = "nested_page"
	CodeUnknownComponent   Code = "unknown_component"
	CodeDuplicateID        Code = "duplicate_id"
	CodeChildrenNotAllowed Code = "children_not_allowed"
	CodeUnknownTemplate    Code = "unknown_template"
	CodeTooManyProblems    Code = "too_many_problems"
	CodeInternal           Code = "internal"
)

// Problem is one reason a document was rejected.
type Problem struct {
	// Path is an RFC 6901 JSON Pointer into the submitted document, such as
	// /body/children/2/props/columns. The empty string is the whole
	// document.
	Path string `json:"path"`

	Code Code `json:"code"`

	// Keyword is the JSON Schema keyword that failed (maxLength, required,
	// ...) when Code is CodeSchema, and empty otherwise.
	Keyword string `json:"keyword,omitempty"`

	// Message explains the problem to the operator in Chinese and English.
	Message Text `json:"message"`

	// For duplicate_id: the id, and the pointer of the node that first
	// used it, which Message quotes. WithBase updates both pointers.
	nodeID   string
	firstUse string
}

// WithBase returns p with base put in front of its path and of the pointer
// its message quotes, for a caller that embeds the document in a larger
// JSON value, such as a request body that carries it under /document.
func (p Problem) WithBase(base string) Problem {
	p.Path = base + p.Path
	if p.firstUse != "" {
		p.firstUse = base + p.firstUse
		p.Message = duplicateIDMessage(p.nodeID, p.firstUse)
	}

	return p
}

func duplicateIDMessage(id, firstUse string) Text {
	return Text{
		ZH: fmt.Sprintf("节点 id %q 重复，已在 %s 使用。", id, firstUse),
		EN: fmt.Sprintf("node id %q is already used at %s", id, firstUse),
	}
}

// String formats the problem for logs and test failures.
func (p Problem) String() string {
	if p.Keyword != "" {
		return fmt.Sprintf("%s %s(%s): %s", p.Path, p.Code, p.Keyword, p.Message.EN)
	}

	return fmt.Sprintf("%s %s: %s", p.Path, p.Code, p.Message.EN)
}

// problems collects problems up to MaxProblems.
type problems struct {
	list []Problem
	full bool
}

// add records p and reports whether there is room for more.
func (ps *problems) add(p Problem) bool {
	if ps.full {
		return false
	}

	if len(ps.list) == MaxProblems {
		ps.full = true
		ps.list = append(ps.list, Problem{
			Code: CodeTooManyProblems,
			Message: Text{
				ZH: fmt.Sprintf("问题超过 %d 个，其余未列出。请先修正以上问题。", MaxProblems),
				EN: fmt.Sprintf("more than %d problems; the rest are not listed, so fix these first", MaxProblems),
			},
		})

		return false
	}

	ps.list = append(ps.list, p)

	return true
}

func (ps *problems) addf(path string, code Code, zh, en string) bool {
	return ps.add(Problem{Path: path, Code: code, Message: Text{ZH: zh, EN: en}})
}

func (ps *problems) empty() bool {
	return len(ps.list) == 0
}

// pointer builds an RFC 6901 JSON Pointer from reference tokens.
func pointer(tokens ...string) string {
	var b strings.Builder

	for _, tok := range tokens {
		b.WriteByte('/')
		b.WriteString(escapeToken(tok))
	}

	return b.String()
}

// join appends tokens to an existing pointer.
func join(base string, tokens ...string) string {
	return base + pointer(tokens...)
}

func joinIndex(base string, key string, i int) string {
	return base + pointer(key, strconv.Itoa(i))
}

var tokenEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func escapeToken(tok string) string {
	return tokenEscaper.Replace(tok)
}
