package flow

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// strftime maps the strftime directives a flow may use to Go layout fragments.
var strftime = map[byte]string{
	'Y': "2006", 'y': "06", 'm': "01", 'd': "02", 'e': "_2", 'j': "002",
	'H': "15", 'I': "03", 'M': "04", 'S': "05", 'p': "PM",
	'b': "Jan", 'h': "Jan", 'B': "January", 'a': "Mon", 'A': "Monday",
	'Z': "MST", 'z': "-0700", '%': "%",
}

// goLayout turns a time_format into a Go layout. A format containing '%' is read as strftime; anything else is a
// Go layout already. strftime is accepted because most people writing a flow file know it and not Go's
// reference time.
func goLayout(format string) (string, error) {
	if !strings.Contains(format, "%") {
		return format, nil
	}
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			b.WriteByte(format[i])
			continue
		}
		if i+1 == len(format) {
			return "", errors.New("ends with a lone %")
		}
		i++
		frag, ok := strftime[format[i]]
		if !ok {
			return "", fmt.Errorf("unknown directive %%%c (know %%Y %%y %%m %%d %%e %%j %%H %%I %%M %%S %%p %%b %%B %%a %%A %%Z %%z %%%%)", format[i])
		}
		b.WriteString(frag)
	}
	return b.String(), nil
}

// checkLayout rejects a layout that prints the same text for any two times: "YYYY-MM-DD" is a valid Go layout
// made only of literal text, and an author who wrote it would never see a date.
func checkLayout(layout string) error {
	a := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	b := time.Date(2019, 11, 23, 16, 47, 58, 0, time.UTC)
	if a.Format(layout) == b.Format(layout) {
		return errors.New("contains no date or time fields (use a Go layout such as \"2006-01-02 15:04\" or strftime such as \"%Y-%m-%d %H:%M\")")
	}
	return nil
}

// parseExpiry reads an expiry: a Go duration ("90m", "36h"), a number of days ("7d"), or "0"/"off" for none.
func parseExpiry(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "", "0", "off", "none":
		return 0, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration (want e.g. 30m, 24h, 7d or off)", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not a duration (want e.g. 30m, 24h, 7d or off)", s)
		}
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}
