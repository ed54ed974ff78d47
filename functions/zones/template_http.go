package zones

import (
	"net/http"

	"github.com/jingtong/backend/shared/httpx"
)

func (s *server) adminTemplateRoutes() {
	s.handle("GET /admin/templates", s.operator(s.handleAdminListTemplates))
	s.handle("POST /admin/templates", s.operator(s.handleCreateTemplate))
	s.handle("GET /admin/templates/{id}", s.operator(s.handleAdminGetTemplate))
	s.handle("PUT /admin/templates/{id}", s.operator(s.handleUpdateTemplate))
	s.handle("DELETE /admin/templates/{id}", s.operator(s.handleDeleteTemplate))
	s.handle("POST /admin/templates/{id}/publish", s.operator(s.handlePublishTemplate))
	s.handle("POST /admin/templates/{id}/unpublish", s.operator(s.handleUnpublishTemplate))
}

func (s *server) handleAdminListTemplates(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	f := TemplateFilter{
		Status: Status(q.enum("status", statusNames())),
		Theme:  q.enum("theme", TemplateThemes),
	}
	p := q.paging()
	if err := q.err(); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}

	list, total, err := s.store.ListTemplates(r.Context(), f, p)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, newList(list, p, total))
}

func (s *server) handleAdminGetTemplate(w http.ResponseWriter, r *http.Request) {
	t, err := s.store.GetTemplate(r.Context(), r.PathValue("id"))
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, t)
}

func (s *server) handleCreateTemplate(w http.ResponseWriter, r *http.Request) {
	var t Template
	if err := s.decode(r, &t); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	if err := validateTemplate(t); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}

	out, err := s.store.CreateTemplate(r.Context(), actor(r), t)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, out)
}

func (s *server) handleUpdateTemplate(w http.ResponseWriter, r *http.Request) {
	var t Template
	if err := s.decode(r, &t); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	if err := checkPathID(r.PathValue("id"), &t.ID); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	if err := validateUpdate(validateTemplate(t), t.Version); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}

	out, err := s.store.UpdateTemplate(r.Context(), actor(r), t)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (s *server) handleDeleteTemplate(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	version := q.int64Param("version")
	if err := q.err(); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	if err := s.store.DeleteTemplate(r.Context(), actor(r), r.PathValue("id"), version); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) handlePublishTemplate(w http.ResponseWriter, r *http.Request) {
	s.setTemplateStatus(w, r, true)
}

func (s *server) handleUnpublishTemplate(w http.ResponseWriter, r *http.Request) {
	s.setTemplateStatus(w, r, false)
}

func (s *server) setTemplateStatus(w http.ResponseWriter, r *http.Request, publish bool) {
	version, err := s.readVersion(r)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	out, err := s.store.SetTemplateStatus(r.Context(), actor(r), r.PathValue("id"), version, publish)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}
