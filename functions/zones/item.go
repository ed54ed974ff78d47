package zones

import (
	"fmt"
)

const (
	maxTitleRunes     = 200
	maxTimeLimitDays  = 365
	maxPolicyRefRunes = 64
)

// validateItem checks the editable fields of it, including its guide.
func validateItem(it Item) error {
	var c checker
	c.slug("/id", it.ID)
	c.slug("/zone_id", it.ZoneID)
	c.text("/name", it.Name, true, maxNameRunes)
	c.text("/summary", it.Summary, false, maxSummaryRunes)
	c.text("/department", it.Department, false, maxTitleRunes)
	c.stringList("/services", it.Services, maxListLen, c.slug)
	validateGuide(&c, "/guide", it.Guide)
	return c.err()
}

func validateGuide(c *checker, path string, g Guide) {
	situations := map[string]bool{}
	if c.count(path+"/situations", len(g.Situations), maxGuideList) {
		for i, s := range g.Situations {
			p := fmt.Sprintf("%s/situations/%d", path, i)
			c.slug(p+"/id", s.ID)
			if situations[s.ID] {
				c.add(p+"/id", "duplicate", "重复的情形编号", "is a duplicate situation id")
			}
			situations[s.ID] = true
			c.text(p+"/name", s.Name, true, maxTitleRunes)
		}
	}

	if c.count(path+"/materials", len(g.Materials), maxGuideList) {
		for i, m := range g.Materials {
			p := fmt.Sprintf("%s/materials/%d", path, i)
			c.text(p+"/name", m.Name, true, maxTitleRunes)
			c.length(p+"/licence", m.Licence, maxShortRunes)
			c.text(p+"/note", m.Note, false, maxSummaryRunes)
			c.stringList(p+"/situations", m.Situations, maxGuideList, func(sp, id string) {
				if !situations[id] {
					c.add(sp, "not_found", fmt.Sprintf("情形 %q 未在 situations 中定义", id),
						fmt.Sprintf("situation %q is not defined in situations", id))
				}
			})
		}
	}

	if c.count(path+"/policies", len(g.Policies), maxGuideList) {
		for i, pol := range g.Policies {
			p := fmt.Sprintf("%s/policies/%d", path, i)
			c.text(p+"/title", pol.Title, true, maxTitleRunes)
			c.text(p+"/issuer", pol.Issuer, false, maxTitleRunes)
			c.length(p+"/ref", pol.Ref, maxPolicyRefRunes)
		}
	}

	if c.count(path+"/notes", len(g.Notes), maxGuideList) {
		for i, n := range g.Notes {
			c.text(fmt.Sprintf("%s/notes/%d", path, i), n, true, maxSummaryRunes)
		}
	}

	if c.count(path+"/steps", len(g.Steps), maxGuideList) {
		for i, st := range g.Steps {
			p := fmt.Sprintf("%s/steps/%d", path, i)
			c.text(p+"/title", st.Title, true, maxTitleRunes)
			c.text(p+"/description", st.Description, false, maxLongRunes)
		}
	}

	if g.TimeLimitDays < 0 || g.TimeLimitDays > maxTimeLimitDays {
		c.add(path+"/time_limit_days", "out_of_range",
			fmt.Sprintf("须在 0 到 %d 之间", maxTimeLimitDays),
			fmt.Sprintf("must be from 0 to %d", maxTimeLimitDays))
	}
	c.text(path+"/fee", g.Fee, false, maxTitleRunes)
}

// normalizeGuide replaces nil lists with empty ones, so stored and returned
// guides always have every list.
func normalizeGuide(g Guide) Guide {
	g.Situations = nonNil(g.Situations)
	g.Materials = nonNil(g.Materials)
	g.Policies = nonNil(g.Policies)
	g.Notes = nonNil(g.Notes)
	g.Steps = nonNil(g.Steps)
	for i := range g.Materials {
		g.Materials[i].Situations = nonNil(g.Materials[i].Situations)
	}
	return g
}

// itemView is a published one-thing item in one language. Lists leave
// Guide out; GET /items/{id} fills it in.
type itemView struct {
	ID         string        `json:"id"`
	ZoneID     string        `json:"zone_id"`
	Name       string        `json:"name"`
	Summary    string        `json:"summary"`
	Department string        `json:"department"`
	Services   []serviceView `json:"services"`
	Guide      *guideView    `json:"guide,omitempty"`
}

type guideView struct {
	Situations    []situationView `json:"situations"`
	Materials     []materialView  `json:"materials"`
	Policies      []policyView    `json:"policies"`
	Notes         []string        `json:"notes"`
	Steps         []stepView      `json:"steps"`
	TimeLimitDays int             `json:"time_limit_days"`
	Fee           string          `json:"fee"`
}

type situationView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type materialView struct {
	Name       string   `json:"name"`
	Required   bool     `json:"required"`
	Licence    string   `json:"licence,omitempty"`
	Situations []string `json:"situations"`
	Note       string   `json:"note"`
}

type policyView struct {
	Title  string `json:"title"`
	Issuer string `json:"issuer"`
	Ref    string `json:"ref"`
}

type stepView struct {
	Title       string `json:"title"`
	Description string `json:"description"`
}

// newItemView localises it. services are the published services the item
// bundles, in its order; withGuide adds the guide.
func newItemView(it Item, services []Service, lang string, withGuide bool) itemView {
	v := itemView{
		ID: it.ID, ZoneID: it.ZoneID, Name: it.Name.In(lang), Summary: it.Summary.In(lang),
		Department: it.Department.In(lang), Services: newServiceViews(services, lang),
	}
	if withGuide {
		g := newGuideView(it.Guide, lang)
		v.Guide = &g
	}
	return v
}

func newGuideView(g Guide, lang string) guideView {
	out := guideView{
		Situations:    make([]situationView, len(g.Situations)),
		Materials:     make([]materialView, len(g.Materials)),
		Policies:      make([]policyView, len(g.Policies)),
		Notes:         make([]string, len(g.Notes)),
		Steps:         make([]stepView, len(g.Steps)),
		TimeLimitDays: g.TimeLimitDays,
		Fee:           g.Fee.In(lang),
	}
	for i, s := range g.Situations {
		out.Situations[i] = situationView{ID: s.ID, Name: s.Name.In(lang)}
	}
	for i, m := range g.Materials {
		out.Materials[i] = materialView{
			Name: m.Name.In(lang), Required: m.Required, Licence: m.Licence,
			Situations: nonNil(m.Situations), Note: m.Note.In(lang),
		}
	}
	for i, p := range g.Policies {
		out.Policies[i] = policyView{Title: p.Title.In(lang), Issuer: p.Issuer.In(lang), Ref: p.Ref}
	}
	for i, n := range g.Notes {
		out.Notes[i] = n.In(lang)
	}
	for i, s := range g.Steps {
		out.Steps[i] = stepView{Title: s.Title.In(lang), Description: s.Description.In(lang)}
	}
	return out
}
