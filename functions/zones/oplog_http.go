package zones

import (
	"net/http"

	"github.com/jingtong/backend/shared/httpx"
)

// entityTypes lists the entity types in the operation log.
var entityTypes = []string{EntityZone, EntityService, EntityItem, EntityTemplate, EntityPage}

// handleListOps returns operation-log entries, newest first, optionally for
// one entity type and id.
func (s *server) handleListOps(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	f := OpFilter{EntityType: q.enum("entity_type", entityTypes), EntityID: q.slug("entity_id")}
	p := q.paging()
	if err := q.err(); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}

	list, total, err := s.store.ListOps(r.Context(), f, p)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, newList(list, p, total))
}
