package zones

import (
	"net/http"

	"github.com/google/uuid"

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

// handleGetOp returns one operation-log entry with its before and after
// values in full, including those that lists leave out.
func (s *server) handleGetOp(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("op")
	parsed, err := uuid.Parse(id)
	if err != nil {
		httpx.WriteError(w, r, s.logger, httpx.E(CodeOpNotFound, truncateForMessage(id)))
		return
	}
	// Entries are stored under the canonical lower-case form, and a UUID
	// may arrive in upper case, in braces or as a URN.
	op, err := s.store.GetOp(r.Context(), parsed.String())
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, op)
}
