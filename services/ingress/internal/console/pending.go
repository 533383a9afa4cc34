package console

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/smsconv/smsconv/shared/store"
)

func takenOver(store.Summary) bool { return false }

func (c *Console) failing(context.Context) (map[store.Key]bool, error) { return nil, nil }

func (c *Console) deadLetters(ctx echo.Context) error {
	return c.render(ctx, http.StatusOK, "deadletters", pageData{Title: "Dead letters", Nav: "dead"})
}

func (c *Console) replay(ctx echo.Context) error { return ctx.NoContent(http.StatusNotImplemented) }
