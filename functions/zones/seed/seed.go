// Package seed contains the demo catalogue of the zones function as embedded
// JSON files, for local development and tests:
//
//   - zones.json: []zones.Zone, the digital-life, digital-business,
//     one-thing, Beijing–Tianjin–Hebei cross-province and foreigner zones.
//   - services.json: []zones.Service, H5 and API services attached to zones.
//   - items.json: []zones.Item, one-thing items with their mobile guides.
//   - templates.json: []zones.Template, seasonal and themed templates whose
//     bodies are page template documents.
//   - pages.json: []Page, one page document per zone.
//
// Zone themes, service names, departments, electronic licence types,
// one-thing item names, policy titles and document numbers are public names,
// taken from sources such as State Council documents and National
// Immigration Administration announcements. Ids, icons, H5 paths, API
// endpoints, news feed keys and subscription topics are synthetic. Guide
// wording, fees, time limits and template windows are illustrative, not
// official figures. H5 links are relative /h5/<service-id> paths for which
// the local development server serves a placeholder page, so no seed link
// leaves the machine.
package seed

import (
	"embed"
	"encoding/json"
)

// FS contains the seed files at its root, by the names listed in the
// package comment.
//
//go:embed *.json
var FS embed.FS

// Page is one entry of pages.json: the page document of a zone, in the
// format that package page validates.
type Page struct {
	ZoneID   string          `json:"zone_id"`
	Document json.RawMessage `json:"document"`
}
