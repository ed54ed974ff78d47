package zones

import (
	"net/http"

	"github.com/jingtong/backend/shared/httpx"
)

func (s *server) adminServiceRoutes() {
	s.handle("GET /admin/services", s.operator(s.handleAdminListServices))
	s.handle("POST /admin/services", s.operator(s.handleCreateService))
	s.handle("GET /admin/services/{id}", s.operator(s.handleAdminGetService))
	s.handle("PUT /admin/services/{id}", s.operator(s.handleUpdateService))
	s.handle("DELETE /admin/services/{id}", s.operator(s.handleDeleteService))
	s.handle("POST /admin/services/{id}/publish", s.operator(s.handlePublishService))
	s.handle("POST /admin/services/{id}/unpublish", s.operator(s.handleUnpublishService))
}

// serviceResponse is a published service with the language it is rendered
// in.
type serviceResponse struct {
	serviceView
	Lang string `json:"lang"`
}

func (s *server) handleGetService(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	lang := q.lang(r)
	if err := q.err(); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	v, err := s.store.GetService(r.Context(), r.PathValue("id"), true)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	s.writeCacheable(w, r, serviceResponse{serviceView: newServiceView(v, lang), Lang: lang})
}

func (s *server) handleAdminListServices(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	f := ServiceFilter{
		Status:  Status(q.enum("status", statusNames())),
		Channel: q.channel(),
		Zone:    q.slug("zone"),
	}
	p := q.paging()
	if err := q.err(); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}

	list, total, err := s.store.ListServices(r.Context(), f, p)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, newList(list, p, total))
}

func (s *server) handleAdminGetService(w http.ResponseWriter, r *http.Request) {
	v, err := s.store.GetService(r.Context(), r.PathValue("id"), false)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, v)
}

func (s *server) handleCreateService(w http.ResponseWriter, r *http.Request) {
	var v Service
	if err := s.decode(r, &v); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	if err := validateService(v); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}

	out, err := s.store.CreateService(r.Context(), actor(r), v)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, out)
}

func (s *server) handleUpdateService(w http.ResponseWriter, r *http.Request) {
	var v Service
	if err := s.decode(r, &v); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	if err := checkPathID(r.PathValue("id"), &v.ID); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	if err := validateUpdate(validateService(v), v.Version); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}

	out, err := s.store.UpdateService(r.Context(), actor(r), v)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (s *server) handleDeleteService(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	version := q.int64Param("version")
	if err := q.err(); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	if err := s.store.DeleteService(r.Context(), actor(r), r.PathValue("id"), version); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) handlePublishService(w http.ResponseWriter, r *http.Request) {
	s.setServiceStatus(w, r, true)
}

func (s *server) handleUnpublishService(w http.ResponseWriter, r *http.Request) {
	s.setServiceStatus(w, r, false)
}

func (s *server) setServiceStatus(w http.ResponseWriter, r *http.Request, publish bool) {
	version, err := s.readVersion(r)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	out, err := s.store.SetServiceStatus(r.Context(), actor(r), r.PathValue("id"), version, publish)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}
