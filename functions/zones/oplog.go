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
type OpEntry struct {
	ID         string          `json:"id"`
	Actor      string          `json:"actor"`
	At         time.Time       `json:"at"`
	Action     string          `json:"action"`
	EntityType string          `json:"entity_type"`
	EntityID   string          `json:"entity_id"`
	Before     json.RawMessage `json:"before"`
	After      json.RawMessage `json:"after"`
}

// OpFilter selects operation-log entries. Empty fields match everything.
type OpFilter struct {
	EntityType string
	EntityID   string
}
