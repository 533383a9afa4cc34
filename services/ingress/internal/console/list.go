package console

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/smsconv/smsconv/shared/store"
)

// pageSize is the number of conversations on one page of the list.
const pageSize = 25

// maxScan bounds how many conversations one list request reads to count and filter. Past it the counts
// say "at least"; a deployment that large wants a search index, not this page.
const maxScan = 20000

// Filter is what the list is narrowed to.
type Filter struct {
	// Q matches the digits of either number.
	Q string
	// State is a flow state, or empty for any.
	State string
	// Flag is "opted_out", "taken_over", "failing" or empty.
	Flag string
}

// Row is one conversation in the list.
type Row struct {
	store.Summary
	TakenOver bool
	Failing   bool
}

// member is the row's position in the store's order, the paging cursor.
func (r Row) member() string { return r.Our + "|" + r.User }

// Counts are shown above the list.
type Counts struct {
	Total, Matching, OptedOut, TakenOver, Failing int
	States                                        []StateCount
	// Truncated is set when more than maxScan conversations exist.
	Truncated bool
}

// StateCount is how many conversations are in one state.
type StateCount struct {
	State string
	N     int
}

// Page is one page of the list.
type Page struct {
	Filter Filter
	Rows   []Row
	Counts Counts
	// Cursor is this page's start, Next the next page's ("" on the last page).
	Cursor, Next string
}

func (f Filter) match(r Row) bool {
	if f.State != "" && r.State != f.State {
		return false
	}
	switch f.Flag {
	case "opted_out":
		if !r.OptedOut {
			return false
		}
	case "taken_over":
		if !r.TakenOver {
			return false
		}
	case "failing":
		if !r.Failing {
			return false
		}
	}
	if q := digits(f.Q); q != "" {
		return strings.Contains(digits(r.User), q) || strings.Contains(digits(r.Our), q)
	}
	return true
}

func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// paginate counts rows (in store order) and returns the page after cursor. The cursor is a position in the
// store's order, not an offset, so conversations added meanwhile never shift a page.
func paginate(rows []Row, f Filter, cursor string, size int) Page {
	p := Page{Filter: f, Cursor: cursor}
	states := map[string]int{}
	for _, r := range rows {
		p.Counts.Total++
		states[r.State]++
		if r.OptedOut {
			p.Counts.OptedOut++
		}
		if r.TakenOver {
			p.Counts.TakenOver++
		}
		if r.Failing {
			p.Counts.Failing++
		}
		if !f.match(r) {
			continue
		}
		p.Counts.Matching++
		if r.member() <= cursor && cursor != "" {
			continue
		}
		switch {
		case len(p.Rows) < size:
			p.Rows = append(p.Rows, r)
		case p.Next == "":
			p.Next = p.Rows[len(p.Rows)-1].member()
		}
	}
	for s, n := range states {
		p.Counts.States = append(p.Counts.States, StateCount{State: s, N: n})
	}
	sort.Slice(p.Counts.States, func(i, j int) bool { return p.Counts.States[i].State < p.Counts.States[j].State })
	return p
}

// rows reads every conversation (up to maxScan) in store order, marked with what the queue knows.
func (c *Console) rows(ctx context.Context) ([]Row, bool, error) {
	failing, err := c.failing(ctx)
	if err != nil {
		return nil, false, err
	}
	var out []Row
	cursor := ""
	for {
		page, next, err := c.d.Store.List(ctx, cursor, 500)
		if err != nil {
			return nil, false, err
		}
		for _, s := range page {
			out = append(out, Row{Summary: s, TakenOver: takenOver(s), Failing: failing[s.Key]})
		}
		if next == "" {
			return out, false, nil
		}
		if len(out) >= maxScan {
			return out, true, nil
		}
		cursor = next
	}
}

func (c *Console) list(ctx echo.Context) error {
	f := Filter{Q: strings.TrimSpace(ctx.QueryParam("q")), State: ctx.QueryParam("state"), Flag: ctx.QueryParam("flag")}
	rows, truncated, err := c.rows(ctx.Request().Context())
	if err != nil {
		return c.storeDown(ctx, err)
	}
	p := paginate(rows, f, ctx.QueryParam("cursor"), pageSize)
	p.Counts.Truncated = truncated
	return c.render(ctx, http.StatusOK, "list", pageData{Title: "Conversations", Nav: "list",
		Data: struct {
			Page
			Glance Glance
		}{p, c.glass.snapshot()}})
}

// query is the list URL for f with one parameter changed (the templates' links and paging).
func (c *Console) query(f Filter, key, value string) string {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("q", f.Q)
	set("state", f.State)
	set("flag", f.Flag)
	q.Del(key)
	set(key, value)
	if len(q) == 0 {
		return "/console"
	}
	return "/console?" + q.Encode()
}
