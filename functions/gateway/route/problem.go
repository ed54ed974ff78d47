package route

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxProblems caps the problems one validation reports.
const MaxProblems = 100

// Problem is one thing wrong with a route table.
type Problem struct {
	// Path is an RFC 6901 JSON Pointer into the table, such as
	// /routes/2/target/upstreams/0/url. The empty string is the whole table.
	Path string `json:"path"`

	Message string `json:"message"`
}

// String returns the problem as "path: message".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// ValidationError lists every problem found in a route table.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "route: invalid route table (%d problems)", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// problems collects problems up to MaxProblems. Paths with a type problem
// are remembered, so that semantic checks do not report the same field
// again as missing or out of range.
type problems struct {
	list     []Problem
	typeBad  map[string]bool
	overflow bool
}

func (ps *problems) add(path, format string, args ...any) {
	if len(ps.list) >= MaxProblems {
		ps.overflow = true
		return
	}
	ps.list = append(ps.list, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// addType records a problem with the JSON type or syntax of the value at
// path.
func (ps *problems) addType(path, format string, args ...any) {
	if ps.typeBad == nil {
		ps.typeBad = map[string]bool{}
	}
	ps.typeBad[path] = true
	ps.add(path, format, args...)
}

// addSemantic records a problem unless the value at path, or a value that
// contains it, already has a type problem.
func (ps *problems) addSemantic(path, format string, args ...any) {
	for p := path; ; {
		if ps.typeBad[p] {
			return
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	ps.add(path, format, args...)
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	list := ps.list
	if ps.overflow {
		list = append(list, Problem{Message: fmt.Sprintf("more than %d problems; fix these first", MaxProblems)})
	}
	return &ValidationError{Problems: list}
}

var tokenEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// ptr appends reference tokens to the JSON Pointer base.
func ptr(base string, tokens ...any) string {
	var b strings.Builder
	b.WriteString(base)
	for _, t := range tokens {
		b.WriteByte('/')
		switch v := t.(type) {
		case int:
			b.WriteString(strconv.Itoa(v))
		case string:
			b.WriteString(tokenEscaper.Replace(v))
		default:
			fmt.Fprint(&b, v)
		}
	}
	return b.String()
}
