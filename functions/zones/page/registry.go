package page

import (
	"bytes"
	"embed"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Component type names.
const (
	TypePage           = "page"
	TypeSection        = "section"
	TypeTopNav         = "top_nav"
	TypeBannerCarousel = "banner_carousel"
	TypeAppGrid        = "app_grid"
	TypeNewsList       = "news_list"
	TypeList           = "list"
	TypeSearch         = "search"
	TypeLoginPrompt    = "login_prompt"
	TypeSubscription   = "subscription"
	TypeItemList       = "item_list"
)

// Component is an entry of the component registry.
type Component struct {
	Name        string
	DisplayName Text

	// Container reports whether nodes of this type may have children.
	Container bool

	// Schema is the JSON Schema (draft 2020-12) of the component's props,
	// as embedded from schemas/<Name>.json. Its $refs point into
	// schemas/common.json.
	Schema []byte

	compiled *jsonschema.Schema
}

// componentList is the registry in display order.
var componentList = []Component{
	{Name: TypePage, DisplayName: Text{ZH: "页面", EN: "Page"}, Container: true},
	{Name: TypeSection, DisplayName: Text{ZH: "分区", EN: "Section"}, Container: true},
	{Name: TypeTopNav, DisplayName: Text{ZH: "顶部导航", EN: "Top navigation"}},
	{Name: TypeBannerCarousel, DisplayName: Text{ZH: "轮播图", EN: "Banner carousel"}},
	{Name: TypeSearch, DisplayName: Text{ZH: "搜索", EN: "Search"}},
	{Name: TypeAppGrid, DisplayName: Text{ZH: "应用宫格", EN: "App grid"}},
	{Name: TypeItemList, DisplayName: Text{ZH: "一件事列表", EN: "One-thing item list"}},
	{Name: TypeNewsList, DisplayName: Text{ZH: "新闻资讯", EN: "News list"}},
	{Name: TypeList, DisplayName: Text{ZH: "列表", EN: "List"}},
	{Name: TypeLoginPrompt, DisplayName: Text{ZH: "登录提示", EN: "Login prompt"}},
	{Name: TypeSubscription, DisplayName: Text{ZH: "订阅", EN: "Subscription"}},
}

//go:embed schemas/*.json
var schemaFiles embed.FS

// schemaBase is the base URI of the embedded schemas. The .invalid top-level
// domain (RFC 2606) never resolves. The compiler does not fetch it either:
// every schema is added as a resource first, and jsonschema v6.0.3 has no
// network loader unless one is set.
const schemaBase = "https://jingtong.invalid/schemas/page/"

// registry holds the compiled schemas. It is built once, on first use.
type registry struct {
	components map[string]*Component
	ordered    []*Component
	document   *jsonschema.Schema
	template   *jsonschema.Schema
	node       *jsonschema.Schema
}

var loadRegistry = sync.OnceValue(func() *registry {
	r, err := buildRegistry()
	if err != nil {
		// The schemas are embedded at build time, so a failure here is a
		// bug in this package, which TestRegistryCompiles catches.
		panic(fmt.Sprintf("page: %v", err))
	}

	return r
})

func buildRegistry() (*registry, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)

	entries, err := schemaFiles.ReadDir("schemas")
	if err != nil {
		return nil, fmt.Errorf("read embedded schemas: %w", err)
	}

	for _, e := range entries {
		data, err := schemaFiles.ReadFile("schemas/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("read schema %q: %w", e.Name(), err)
		}

		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("parse schema %q: %w", e.Name(), err)
		}

		if err := c.AddResource(schemaBase+e.Name(), doc); err != nil {
			return nil, fmt.Errorf("add schema %q: %w", e.Name(), err)
		}
	}

	r := &registry{components: map[string]*Component{}}

	for i := range componentList {
		comp := componentList[i] // a copy, so the package-level list stays uncompiled

		comp.Schema, err = schemaFiles.ReadFile("schemas/" + comp.Name + ".json")
		if err != nil {
			return nil, fmt.Errorf("read schema of component %q: %w", comp.Name, err)
		}

		comp.compiled, err = c.Compile(schemaBase + comp.Name + ".json")
		if err != nil {
			return nil, fmt.Errorf("compile schema of component %q: %w", comp.Name, err)
		}

		r.components[comp.Name] = &comp
		r.ordered = append(r.ordered, &comp)
	}

	for name, dst := range map[string]**jsonschema.Schema{
		"document.json": &r.document,
		"template.json": &r.template,
		"node.json":     &r.node,
	} {
		if *dst, err = c.Compile(schemaBase + name); err != nil {
			return nil, fmt.Errorf("compile schema %q: %w", name, err)
		}
	}

	return r, nil
}

// Components returns the registry in display order. The returned values are
// copies, so changing them does not change validation.
func Components() []Component {
	r := loadRegistry()
	out := make([]Component, len(r.ordered))

	for i, c := range r.ordered {
		out[i] = *c
		out[i].Schema = bytes.Clone(c.Schema)
	}

	return out
}

// LookupComponent returns the registry entry of a component type.
func LookupComponent(name string) (Component, bool) {
	c, ok := loadRegistry().components[name]
	if !ok {
		return Component{}, false
	}

	out := *c
	out.Schema = bytes.Clone(c.Schema)

	return out, true
}
