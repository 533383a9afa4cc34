package api

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// listUnknown answers the outbound messages held with an unknown send outcome (REPLY_UNKNOWN_OUTCOME=hold),
// oldest first: the request left, its answer never came back, and nothing more was sent. An operator checks
// them against Telnyx's message records and resends what did not go.
func (s *Server) listUnknown(c echo.Context) error {
	limit, err := queryInt(c, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	held, err := s.d.Store.Unknown(c.Request().Context(), limit)
	if err != nil {
		return s.storeUnavailable("list_unknown")
	}
	out := make([]messageJSON, len(held))
	for i, m := range held {
		out[i] = toMessageJSON(m)
	}
	return c.JSON(http.StatusOK, out)
}
