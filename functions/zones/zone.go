package zones

import (
	"time"
)

// ZoneKinds lists every zone kind in display order.
var ZoneKinds = []ZoneKind{KindLife, KindBusiness, KindOneThing, KindCrossProvince, KindForeigner}

func zoneKindNames() []string {
	out := make([]string, len(ZoneKinds))
	for i, k := range ZoneKinds {
		out[i] = string(k)
	}
	return out
}

// validateZone checks the editable fields of z.
func validateZone(z Zone) error {
	var c checker
	c.slug("/id", z.ID)
	c.enum("/kind", string(z.Kind), zoneKindNames())
	c.text("/name", z.Name, true, maxNameRunes)
	c.text("/description", z.Description, false, maxSummaryRunes)
	c.icon("/icon", z.Icon)
	c.length("/category", z.Category, maxShortRunes)
	c.length("/owner", z.Owner, maxShortRunes)
	if z.Order < 0 || z.Order > 1_000_000 {
		c.add("/order", "out_of_range", "须在 0 到 1000000 之间", "must be from 0 to 1000000")
	}
	c.channels("/channels", z.Channels)
	return c.err()
}

// zoneView is a published zone in one language, as public reads return it.
type zoneView struct {
	ID          string    `json:"id"`
	Kind        ZoneKind  `json:"kind"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Icon        string    `json:"icon"`
	Category    string    `json:"category"`
	Order       int       `json:"order"`
	Channels    []Channel `json:"channels"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func newZoneView(z Zone, lang string) zoneView {
	return zoneView{
		ID: z.ID, Kind: z.Kind, Name: z.Name.In(lang), Description: z.Description.In(lang),
		Icon: z.Icon, Category: z.Category, Order: z.Order, Channels: nonNil(z.Channels), UpdatedAt: z.UpdatedAt,
	}
}
