package zones

import (
	"github.com/jingtong/backend/functions/zones/page"
	"github.com/jingtong/backend/shared/httpx"
)

// TemplateThemes lists the template themes.
var TemplateThemes = []string{"spring_festival", "lantern_festival", "gaokao", "holiday", "livelihood"}

// validateTemplate checks the editable fields of t. The body must be a
// valid template document; its problems are reported under /body.
func validateTemplate(t Template) error {
	var c checker
	c.slug("/id", t.ID)
	c.enum("/theme", t.Theme, TemplateThemes)
	c.text("/name", t.Name, true, maxNameRunes)
	if t.StartAt != nil && t.EndAt != nil && !t.StartAt.Before(*t.EndAt) {
		c.add("/end_at", "out_of_range", "结束时间须晚于开始时间", "must be after start_at")
	}
	if len(t.Body) == 0 || string(t.Body) == "null" {
		c.required("/body")
	} else {
		_, problems := page.ValidateTemplate(t.Body)
		c.details = append(c.details, problemDetails("/body", problems)...)
	}
	return c.err()
}

// problemDetails turns page problems into error details whose paths point
// into the request body, under base.
func problemDetails(base string, problems []page.Problem) []httpx.Detail {
	out := make([]httpx.Detail, len(problems))
	for i, p := range problems {
		p = p.WithBase(base)
		out[i] = httpx.Detail{Path: p.Path, Reason: string(p.Code), ZH: p.Message.ZH, EN: p.Message.EN}
	}
	return out
}
