package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/statuspage"
)

// The store is where the incident view reads the record of truth.
var _ statuspage.Source = (*jetstream.Store)(nil)

// incidentPrefix is the path of the incident view: /incident/<id>.
const incidentPrefix = "/incident/"

// incidentPage serves /incident/<id>: what each rung of the incident saw
// and did, read from the store. An id that is not one, or that the store
// does not know, is a 404 page saying so.
func (d *daemon) incidentPage(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, incidentPrefix)
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	inc, err := statuspage.Load(ctx, d.store, id)
	switch {
	case errors.Is(err, statuspage.ErrBadID):
		statuspage.NotFound(w, id, "That is not an incident id.")
		return
	case errors.Is(err, razar.ErrNotFound):
		statuspage.NotFound(w, id, "Neither the incidents RAZAR keeps nor the audit stream hold it.")
		return
	case err != nil:
		http.Error(w, "incident "+id+": "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	var page bytes.Buffer
	if err := statuspage.WriteHTML(&page, inc); err != nil {
		d.log.Warn().Err(err).Str("incident", id).Msg("incident page")
		http.Error(w, "incident page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(page.Bytes())
}
