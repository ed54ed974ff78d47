package zones

import (
	"context"
	"net/http"

	"github.com/jingtong/backend/shared/httpx"
)

func (s *server) adminItemRoutes() {
	s.handle("GET /admin/items", s.operator(s.handleAdminListItems))
	s.handle("POST /admin/items", s.operator(s.handleCreateItem))
	s.handle("GET /admin/items/{id}", s.operator(s.handleAdminGetItem))
	s.handle("PUT /admin/items/{id}", s.operator(s.handleUpdateItem))
	s.handle("DELETE /admin/items/{id}", s.operator(s.handleDeleteItem))
	s.handle("POST /admin/items/{id}/publish", s.operator(s.handlePublishItem))
	s.handle("POST /admin/items/{id}/unpublish", s.operator(s.handleUnpublishItem))
}

// handleListItems returns published one-thing items of published zones,
// without their guides.
func (s *server) handleListItems(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	f := ItemFilter{Zone: q.slug("zone"), Status: StatusPublished, PublishedZones: true}
	p := q.paging()
	lang := q.lang(r)
	if err := q.err(); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}

	list, total, err := s.store.ListItems(r.Context(), f, p)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	views, err := s.itemViews(r.Context(), list, lang, false)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	resp := newList(views, p, total)
	resp.Lang = lang
	s.writeCacheable(w, r, resp)
}

// itemResponse is a published item with its guide and the language it is
// rendered in.
type itemResponse struct {
	itemView
	Lang string `json:"lang"`
}

// handleGetItem returns a published one-thing item with its full guide,
// localised like every public read.
func (s *server) handleGetItem(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	lang := q.lang(r)
	if err := q.err(); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	it, err := s.store.GetItem(r.Context(), r.PathValue("id"), true)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	views, err := s.itemViews(r.Context(), []Item{it}, lang, true)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	s.writeCacheable(w, r, itemResponse{itemView: views[0], Lang: lang})
}

// itemViews localises items with their published services.
func (s *server) itemViews(ctx context.Context, items []Item, lang string, withGuide bool) ([]itemView, error) {
	var ids []string
	for _, it := range items {
		ids = append(ids, it.Services...)
	}
	services, err := s.store.publishedServices(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]Service, len(services))
	for _, v := range services {
		byID[v.ID] = v
	}

	out := make([]itemView, len(items))
	for i, it := range items {
		var bundled []Service
		for _, id := range it.Services {
			if v, ok := byID[id]; ok {
				bundled = append(bundled, v)
			}
		}
		out[i] = newItemView(it, bundled, lang, withGuide)
	}
	return out, nil
}

func (s *server) handleAdminListItems(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	f := ItemFilter{Zone: q.slug("zone"), Status: Status(q.enum("status", statusNames()))}
	p := q.paging()
	if err := q.err(); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}

	list, total, err := s.store.ListItems(r.Context(), f, p)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, newList(list, p, total))
}

func (s *server) handleAdminGetItem(w http.ResponseWriter, r *http.Request) {
	it, err := s.store.GetItem(r.Context(), r.PathValue("id"), false)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, it)
}

func (s *server) handleCreateItem(w http.ResponseWriter, r *http.Request) {
	var it Item
	if err := s.decode(r, &it); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	if err := validateItem(it); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}

	out, err := s.store.CreateItem(r.Context(), actor(r), it)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, out)
}

func (s *server) handleUpdateItem(w http.ResponseWriter, r *http.Request) {
	var it Item
	if err := s.decode(r, &it); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	if err := checkPathID(r.PathValue("id"), &it.ID); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	if err := validateUpdate(validateItem(it), it.Version); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}

	out, err := s.store.UpdateItem(r.Context(), actor(r), it)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (s *server) handleDeleteItem(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	version := q.int64Param("version")
	if err := q.err(); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	if err := s.store.DeleteItem(r.Context(), actor(r), r.PathValue("id"), version); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) handlePublishItem(w http.ResponseWriter, r *http.Request) {
	s.setItemStatus(w, r, true)
}

func (s *server) handleUnpublishItem(w http.ResponseWriter, r *http.Request) {
	s.setItemStatus(w, r, false)
}

func (s *server) setItemStatus(w http.ResponseWriter, r *http.Request, publish bool) {
	version, err := s.readVersion(r)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	out, err := s.store.SetItemStatus(r.Context(), actor(r), r.PathValue("id"), version, publish)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}
