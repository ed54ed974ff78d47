package zones

const (
	maxKeywords     = 30
	maxKeywordRunes = 32
)

// validateService checks the editable fields of v.
func validateService(v Service) error {
	var c checker
	c.slug("/id", v.ID)
	c.enum("/type", string(v.Type), []string{string(ServiceH5), string(ServiceAPI)})
	c.text("/name", v.Name, true, maxNameRunes)
	c.text("/summary", v.Summary, false, maxSummaryRunes)
	c.icon("/icon", v.Icon)
	if v.Badge != BadgeNone {
		c.enum("/badge", string(v.Badge), []string{string(BadgeNew), string(BadgeHot)})
	}

	switch v.Type {
	case ServiceH5:
		c.link("/url", v.URL, true)
		if v.Endpoint != "" {
			c.add("/endpoint", "not_allowed", "H5 服务不能填写接口地址", "must be empty for an h5 service")
		}
	case ServiceAPI:
		c.link("/url", v.URL, false)
		if v.Endpoint == "" {
			c.required("/endpoint")
		} else if len(v.Endpoint) > maxURLLength || !endpointPattern.MatchString(v.Endpoint) {
			c.add("/endpoint", "invalid_format",
				"须为“方法 路径”，例如 GET /api/licences",
				`must be "METHOD /path", such as GET /api/licences`)
		}
	}

	c.channels("/channels", v.Channels)
	c.stringList("/licences", v.Licences, maxListLen, c.shortText)
	c.stringList("/prefill", v.Prefill, maxListLen, c.name)
	c.stringList("/keywords", v.Keywords, maxKeywords, func(path, k string) {
		if normalizeTerm(k) == "" {
			c.required(path)
			return
		}
		c.length(path, k, maxKeywordRunes)
	})
	c.stringList("/zones", v.Zones, maxListLen, c.slug)
	return c.err()
}

// serviceView is a service in one language, as public reads return it.
type serviceView struct {
	ID            string      `json:"id"`
	Type          ServiceType `json:"type"`
	Name          string      `json:"name"`
	Summary       string      `json:"summary"`
	Icon          string      `json:"icon"`
	Badge         Badge       `json:"badge,omitempty"`
	URL           string      `json:"url,omitempty"`
	Endpoint      string      `json:"endpoint,omitempty"`
	Channels      []Channel   `json:"channels"`
	LoginRequired bool        `json:"login_required"`
	Licences      []string    `json:"licences"`
	Prefill       []string    `json:"prefill"`
	Zones         []string    `json:"zones"`
}

func newServiceView(v Service, lang string) serviceView {
	return serviceView{
		ID: v.ID, Type: v.Type, Name: v.Name.In(lang), Summary: v.Summary.In(lang), Icon: v.Icon,
		Badge: v.Badge, URL: v.URL, Endpoint: v.Endpoint, Channels: nonNil(v.Channels),
		LoginRequired: v.LoginRequired, Licences: nonNil(v.Licences), Prefill: nonNil(v.Prefill),
		Zones: nonNil(v.Zones),
	}
}

func newServiceViews(list []Service, lang string) []serviceView {
	out := make([]serviceView, len(list))
	for i, v := range list {
		out[i] = newServiceView(v, lang)
	}
	return out
}
