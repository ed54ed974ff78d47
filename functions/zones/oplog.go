package zones

import (
	"encoding/json"
	"time"
)

// Entity types in the operation log.
const (
	EntityZone     = "zone"
	EntityService  = "service"
	EntityItem     = "item"
	EntityTemplate = "template"
	EntityPage     = "page"
)

// Actions in the operation log.
const (
	ActionCreate       = "create"
	ActionUpdate       = "update"
	ActionDelete       = "delete"
	ActionPublish      = "publish"
	ActionUnpublish    = "unpublish"
	ActionReorder      = "reorder_services"
	ActionPageSave     = "page_save"
	ActionPagePublish  = "page_publish"
	ActionPageRollback = "page_rollback"
)

// ActorSeed is the operation-log actor of the demo catalogue loader.
const ActorSeed = "seed"

// OpEntry is one operation-log record: who changed which entity, when, and
// the entity before and after the change (null for a create or a delete).
// A list leaves out a before or after value longer than
// opListValueLimit and sets BeforeOmitted or AfterOmitted, so that one page
// of entries stays small however large the page documents in it are.
type OpEntry struct {
	ID            string          `json:"id"`
	Actor         string          `json:"actor"`
	At            time.Time       `json:"at"`
	Action        string          `json:"action"`
	EntityType    string          `json:"entity_type"`
	EntityID      string          `json:"entity_id"`
	Before        json.RawMessage `json:"before"`
	After         json.RawMessage `json:"after"`
	BeforeOmitted bool            `json:"before_omitted,omitempty"`
	AfterOmitted  bool            `json:"after_omitted,omitempty"`
}

// opListValueLimit is the longest before or after value, in bytes, that an
// operation-log list includes. At the largest page size of 100 it keeps a
// list's values under 3.2 MiB.
const opListValueLimit = 16 << 10

// OpFilter selects operation-log entries. Empty fields match everything.
type OpFilter struct {
	EntityType string
	EntityID   string
}
