package zones

import (
	"net/http"

	"github.com/jingtong/backend/shared/httpx"
)

func (s *server) adminZoneRoutes() {
	s.handle("GET /admin/zones", s.operator(s.handleAdminListZones))
	s.handle("POST /admin/zones", s.operator(s.handleCreateZone))
	s.handle("GET /admin/zones/{id}", s.operator(s.handleAdminGetZone))
	s.handle("PUT /admin/zones/{id}", s.operator(s.handleUpdateZone))
	s.handle("DELETE /admin/zones/{id}", s.operator(s.handleDeleteZone))
	s.handle("POST /admin/zones/{id}/publish", s.operator(s.handlePublishZone))
	s.handle("POST /admin/zones/{id}/unpublish", s.operator(s.handleUnpublishZone))
	s.handle("GET /admin/zones/{id}/services", s.operator(s.handleAdminZoneServices))
	s.handle("PUT /admin/zones/{id}/services", s.operator(s.handleSetZoneServices))
}

// handleListZones returns published zones in display order, in the
// request's language.
func (s *server) handleListZones(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	f := ZoneFilter{
		Kind:    ZoneKind(q.enum("kind", zoneKindNames())),
		Channel: q.channel(),
		Status:  StatusPublished,
	}
	p := q.paging()
	lang := q.lang(r)
	if err := q.err(); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}

	list, total, err := s.store.ListZones(r.Context(), f, p)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}

	views := make([]zoneView, len(list))
	for i, z := range list {
		views[i] = newZoneView(z, lang)
	}
	resp := newList(views, p, total)
	resp.Lang = lang
	s.writeCacheable(w, r, resp)
}

// zoneResponse is a published zone with the language it is rendered in.
type zoneResponse struct {
	zoneView
	Lang string `json:"lang"`
}

func (s *server) handleGetZone(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	lang := q.lang(r)
	if err := q.err(); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	z, err := s.store.GetZone(r.Context(), r.PathValue("id"), true)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	s.writeCacheable(w, r, zoneResponse{zoneView: newZoneView(z, lang), Lang: lang})
}

// handleZoneServices returns the published services of a published zone in
// display order, limited to one channel when ?channel is set. A zone that
// is not available on that channel is not found, as on the page route.
func (s *server) handleZoneServices(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	ch := q.channel()
	lang := q.lang(r)
	if err := q.err(); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}

	id := r.PathValue("id")
	z, err := s.store.GetZone(r.Context(), id, true)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	if !availableOn(z.Channels, ch) {
		httpx.WriteError(w, r, s.logger, httpx.E(CodeZoneNotFound, id))
		return
	}
	list, err := s.store.ZoneServices(r.Context(), id, ch, true)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}

	resp := newList(newServiceViews(list, lang), Paging{Number: 1, Size: len(list)}, len(list))
	resp.Lang = lang
	s.writeCacheable(w, r, resp)
}

func (s *server) handleAdminListZones(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	f := ZoneFilter{
		Kind:    ZoneKind(q.enum("kind", zoneKindNames())),
		Channel: q.channel(),
		Status:  Status(q.enum("status", statusNames())),
	}
	p := q.paging()
	if err := q.err(); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}

	list, total, err := s.store.ListZones(r.Context(), f, p)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, newList(list, p, total))
}

func (s *server) handleAdminGetZone(w http.ResponseWriter, r *http.Request) {
	z, err := s.store.GetZone(r.Context(), r.PathValue("id"), false)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, z)
}

func (s *server) handleCreateZone(w http.ResponseWriter, r *http.Request) {
	var z Zone
	if err := s.decode(r, &z); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	if err := validateZone(z); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}

	out, err := s.store.CreateZone(r.Context(), actor(r), z)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, out)
}

func (s *server) handleUpdateZone(w http.ResponseWriter, r *http.Request) {
	var z Zone
	if err := s.decode(r, &z); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	if err := checkPathID(r.PathValue("id"), &z.ID); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	if err := validateUpdate(validateZone(z), z.Version); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}

	out, err := s.store.UpdateZone(r.Context(), actor(r), z)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (s *server) handleDeleteZone(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	version := q.int64Param("version")
	if err := q.err(); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	if err := s.store.DeleteZone(r.Context(), actor(r), r.PathValue("id"), version); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) handlePublishZone(w http.ResponseWriter, r *http.Request) {
	s.setZoneStatus(w, r, true)
}

func (s *server) handleUnpublishZone(w http.ResponseWriter, r *http.Request) {
	s.setZoneStatus(w, r, false)
}

func (s *server) setZoneStatus(w http.ResponseWriter, r *http.Request, publish bool) {
	version, err := s.readVersion(r)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	out, err := s.store.SetZoneStatus(r.Context(), actor(r), r.PathValue("id"), version, publish)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// zoneServicesBody is the body of PUT /admin/zones/{id}/services: the
// attached services in display order and the zone version read.
type zoneServicesBody struct {
	Services []string `json:"services"`
	Version  int64    `json:"version"`
}

// zoneServicesResponse is the admin view of a zone's service list.
type zoneServicesResponse struct {
	ZoneID   string   `json:"zone_id"`
	Version  int64    `json:"version"`
	Services []string `json:"services"`
}

func (s *server) handleAdminZoneServices(w http.ResponseWriter, r *http.Request) {
	z, err := s.store.GetZone(r.Context(), r.PathValue("id"), false)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	ids, err := s.store.ZoneServiceIDs(r.Context(), z.ID)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, zoneServicesResponse{ZoneID: z.ID, Version: z.Version, Services: ids})
}

func (s *server) handleSetZoneServices(w http.ResponseWriter, r *http.Request) {
	var body zoneServicesBody
	if err := s.decode(r, &body); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	var c checker
	c.stringList("/services", body.Services, maxZoneServices, c.slug)
	if err := validateUpdate(c.err(), body.Version); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}

	z, err := s.store.SetZoneServices(r.Context(), actor(r), r.PathValue("id"), body.Version, body.Services)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, zoneServicesResponse{ZoneID: z.ID, Version: z.Version, Services: nonNil(body.Services)})
}
