package console

import (
	"slices"
	"strings"
	"testing"

	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/store"
)

func row(user, state string, flags ...string) Row {
	r := Row{Summary: store.Summary{Key: store.Key{Our: "+12125550100", User: user},
		Conversation: conversation.Conversation{State: state}}}
	for _, f := range flags {
		switch f {
		case "opted_out":
			r.OptedOut = true
		case "taken_over":
			r.TakenOver = true
		case "failing":
			r.Failing = true
		}
	}
	return r
}

func users(rows []Row) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.User)
	}
	return out
}

func TestPaginate(t *testing.T) {
	all := []Row{
		row("+13125550101", "greeted"),
		row("+13125550102", "ended", "opted_out"),
		row("+13125550103", "greeted", "taken_over"),
		row("+13125550104", "informed", "failing"),
		row("+14155550105", "greeted"),
	}
	cases := []struct {
		name     string
		f        Filter
		cursor   string
		size     int
		want     []string
		next     string
		matching int
	}{
		{"first page", Filter{}, "", 2, []string{"+13125550101", "+13125550102"}, "+12125550100|+13125550102", 5},
		{"second page", Filter{}, "+12125550100|+13125550102", 2, []string{"+13125550103", "+13125550104"}, "+12125550100|+13125550104", 5},
		{"last page", Filter{}, "+12125550100|+13125550104", 2, []string{"+14155550105"}, "", 5},
		{"by state", Filter{State: "greeted"}, "", 10, []string{"+13125550101", "+13125550103", "+14155550105"}, "", 3},
		{"opted out", Filter{Flag: "opted_out"}, "", 10, []string{"+13125550102"}, "", 1},
		{"taken over", Filter{Flag: "taken_over"}, "", 10, []string{"+13125550103"}, "", 1},
		{"failing", Filter{Flag: "failing"}, "", 10, []string{"+13125550104"}, "", 1},
		{"search digits of the user", Filter{Q: "415 555"}, "", 10, []string{"+14155550105"}, "", 1},
		{"search our number", Filter{Q: "+1 212"}, "", 2, []string{"+13125550101", "+13125550102"}, "+12125550100|+13125550102", 5},
		{"state and search", Filter{State: "greeted", Q: "0103"}, "", 10, []string{"+13125550103"}, "", 1},
		{"nothing", Filter{Q: "999"}, "", 10, nil, "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := paginate(all, tc.f, tc.cursor, tc.size)
			if got := users(p.Rows); !slices.Equal(got, tc.want) || p.Next != tc.next || p.Counts.Matching != tc.matching {
				t.Fatalf("rows %v next %q matching %d, want %v %q %d", got, p.Next, p.Counts.Matching, tc.want, tc.next, tc.matching)
			}
			if p.Counts.Total != 5 || p.Counts.OptedOut != 1 || p.Counts.TakenOver != 1 || p.Counts.Failing != 1 {
				t.Fatalf("counts %+v: want the totals over every conversation", p.Counts)
			}
		})
	}
}

// A conversation added before the cursor does not move the next page: the cursor is a position, not an offset.
func TestPaginateStableWhileAdding(t *testing.T) {
	rows := []Row{row("+13125550102", "new"), row("+13125550104", "new"), row("+13125550106", "new")}
	first := paginate(rows, Filter{}, "", 1)
	grown := append([]Row{row("+13125550101", "new")}, rows...)
	second := paginate(grown, Filter{}, first.Next, 1)
	if got := users(second.Rows); !slices.Equal(got, []string{"+13125550104"}) {
		t.Fatalf("second page after an insert before it: %v, want +13125550104", got)
	}
}

func TestPoints(t *testing.T) {
	cases := []struct {
		name string
		v    []float64
		want string
	}{
		{"none", nil, ""},
		{"flat zero at the bottom", []float64{0, 0}, "100.0,30.0"},
		{"max at the top", []float64{1, 2}, "100.0,2.0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := points(tc.v)
			if tc.want == "" && got != "" || tc.want != "" && !strings.HasSuffix(got, tc.want) {
				t.Fatalf("points(%v) = %q, want it to end at %q", tc.v, got, tc.want)
			}
		})
	}
}
