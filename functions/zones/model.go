package zones

import (
	"encoding/json"
	"time"
)

// Text is a user-facing string in Simplified Chinese and English. ZH is
// required; EN falls back to ZH when empty.
type Text struct {
	ZH string `json:"zh"`
	EN string `json:"en,omitempty"`
}

// In returns the text in lang ("zh" or "en").
func (t Text) In(lang string) string {
	if lang == "en" && t.EN != "" {
		return t.EN
	}
	return t.ZH
}

// ZoneKind is the kind of a themed zone (专区).
type ZoneKind string

// Zone kinds.
const (
	KindLife          ZoneKind = "life"           // 数字生活专区, for individuals
	KindBusiness      ZoneKind = "business"       // 数字营商专区, for enterprises
	KindOneThing      ZoneKind = "one_thing"      // 一件事一次办
	KindCrossProvince ZoneKind = "cross_province" // 京津冀跨省通办
	KindForeigner     ZoneKind = "foreigner"      // 外国人版 (foreigner edition)
)

// Status is the publication state shared by zones, services, items and
// templates.
type Status string

// Publication states. A published entity is visible to mini-programs; an
// offline one was published before and has been taken down.
const (
	StatusDraft     Status = "draft"
	StatusPublished Status = "published"
	StatusOffline   Status = "offline"
)

// Channel is a front end that renders pages.
type Channel string

// Channels.
const (
	ChannelWeChat Channel = "wechat"
	ChannelAlipay Channel = "alipay"
	ChannelBaidu  Channel = "baidu"
	ChannelApp    Channel = "app"
	ChannelH5     Channel = "h5"
)

// Channels lists every channel in display order.
var Channels = []Channel{ChannelWeChat, ChannelAlipay, ChannelBaidu, ChannelApp, ChannelH5}

// Zone is a themed service zone.
type Zone struct {
	ID          string   `json:"id"`
	Kind        ZoneKind `json:"kind"`
	Name        Text     `json:"name"`
	Description Text     `json:"description"`
	Icon        string   `json:"icon"`
	Category    string   `json:"category"`
	Order       int      `json:"order"`
	Owner       string   `json:"owner"`
	// Channels lists the front ends that show the zone; empty means every
	// channel.
	Channels  []Channel `json:"channels"`
	Status    Status    `json:"status"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ServiceType is how a service is reached: an H5 page or an API.
type ServiceType string

// Service types.
const (
	ServiceH5  ServiceType = "h5"  // an H5 page opened in a web view
	ServiceAPI ServiceType = "api" // an API service called by the front end
)

// Badge marks a service in lists.
type Badge string

// Badges.
const (
	BadgeNone Badge = ""
	BadgeNew  Badge = "NEW"
	BadgeHot  Badge = "HOT"
)

// Service is an H5 link or API service attached to zones.
type Service struct {
	ID       string      `json:"id"`
	Type     ServiceType `json:"type"`
	Name     Text        `json:"name"`
	Summary  Text        `json:"summary"`
	Icon     string      `json:"icon"`
	Badge    Badge       `json:"badge,omitempty"`
	URL      string      `json:"url,omitempty"`      // H5 services: the page to open
	Endpoint string      `json:"endpoint,omitempty"` // API services: "METHOD /path"
	// Channels lists where the service is available; empty means every channel.
	Channels      []Channel `json:"channels"`
	LoginRequired bool      `json:"login_required"`
	// Licences names the electronic licence types the service needs, such as
	// "居民身份证".
	Licences []string `json:"licences"`
	// Prefill names the form fields the big-data centre fills in, such as
	// "household_registration", "ethnicity", "education", "id_validity",
	// "marital_status".
	Prefill  []string  `json:"prefill"`
	Keywords []string  `json:"keywords"`
	Zones    []string  `json:"zones"` // ids of the zones the service is attached to, in display order
	Status   Status    `json:"status"`
	Version  int64     `json:"version"`
	Created  time.Time `json:"created_at"`
	Updated  time.Time `json:"updated_at"`
}

// Item is a one-thing (一件事) bundle with its mobile guide.
type Item struct {
	ID         string    `json:"id"`
	ZoneID     string    `json:"zone_id"`
	Name       Text      `json:"name"`
	Summary    Text      `json:"summary"`
	Department Text      `json:"department"`
	Services   []string  `json:"services"` // ids of the services the item bundles
	Guide      Guide     `json:"guide"`
	Status     Status    `json:"status"`
	Version    int64     `json:"version"`
	Created    time.Time `json:"created_at"`
	Updated    time.Time `json:"updated_at"`
}

// Guide is the mobile guide of a one-thing item: what to bring, which
// policies apply, what to watch out for and the steps.
type Guide struct {
	Situations []Situation `json:"situations"` // 情形: cases that change the materials
	Materials  []Material  `json:"materials"`
	Policies   []Policy    `json:"policies"`
	Notes      []Text      `json:"notes"`
	Steps      []Step      `json:"steps"`
	// TimeLimitDays is the promised processing time in working days; 0 means
	// done on the spot.
	TimeLimitDays int  `json:"time_limit_days"`
	Fee           Text `json:"fee"`
}

// Situation is one case (情形) of a one-thing item.
type Situation struct {
	ID   string `json:"id"`
	Name Text   `json:"name"`
}

// Material is a document the applicant provides.
type Material struct {
	Name     Text `json:"name"`
	Required bool `json:"required"`
	// Licence names the electronic licence that replaces the paper material,
	// so the applicant need not upload it.
	Licence    string   `json:"licence,omitempty"`
	Situations []string `json:"situations,omitempty"` // ids; empty means every situation
	Note       Text     `json:"note"`
}

// Policy is a regulation the item rests on.
type Policy struct {
	Title  Text   `json:"title"`
	Issuer Text   `json:"issuer"`
	Ref    string `json:"ref"` // document number, such as 国办发〔2024〕3号
}

// Step is one step of the application flow.
type Step struct {
	Title       Text `json:"title"`
	Description Text `json:"description"`
}

// Template is a seasonal or themed template that pages reference. It applies
// to a page only inside its effective window.
type Template struct {
	ID      string          `json:"id"`
	Theme   string          `json:"theme"` // spring_festival, lantern_festival, gaokao, holiday, livelihood
	Name    Text            `json:"name"`
	StartAt *time.Time      `json:"start_at"` // nil: effective since ever
	EndAt   *time.Time      `json:"end_at"`   // nil: effective for ever
	Body    json.RawMessage `json:"body"`     // template document, see package page
	Status  Status          `json:"status"`
	Version int64           `json:"version"`
	Created time.Time       `json:"created_at"`
	Updated time.Time       `json:"updated_at"`
}
