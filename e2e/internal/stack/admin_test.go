package stack

import "testing"

func TestNextLink(t *testing.T) {
	tests := []struct {
		name, header, want string
	}{
		{"none", "", ""},
		{"next page", `</conversations?cursor=42&limit=1000>; rel="next"`, "/conversations?cursor=42&limit=1000"},
		{"among others", `</x?page=1>; rel="prev", </dead-letters?after=7&limit=100>; rel="next"`, "/dead-letters?after=7&limit=100"},
		{"only prev", `</x?page=1>; rel="prev"`, ""},
		{"absolute URL", `<http://127.0.0.1:8080/conversations?cursor=a%2Fb>; rel="next"`, "/conversations?cursor=a%2Fb"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := nextLink(tc.header); got != tc.want {
				t.Errorf("nextLink(%q) = %q, want %q", tc.header, got, tc.want)
			}
		})
	}
}
