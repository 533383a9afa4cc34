package sendrate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/smsconv/smsconv/shared/phone"
)

// LoadFile reads per-number rates (SEND_RATE_FILE), in segments per second, from a YAML file such as
//
//	numbers:
//	  "+18005550100": 20       # a toll-free number
//	  "+12125550100": 75/min   # a 10DLC number of a low-volume campaign class
//	  "+12125550101": 0        # no limit of its own (the account's still applies)
//
// A rate is a number (per second) or N/s, N/min or N/h. Numbers are normalised to E.164; unknown keys, an
// unreadable rate or a number given twice are errors, so a typo is found at start, not in production.
func LoadFile(path string) (map[string]float64, error) {
	data, err := os.ReadFile(path) //nolint:gosec // the operator names the file
	if err != nil {
		return nil, fmt.Errorf("SEND_RATE_FILE: %w", err)
	}
	rates, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("SEND_RATE_FILE %s: %w", path, err)
	}
	return rates, nil
}

// Parse reads the YAML of LoadFile.
func Parse(data []byte) (map[string]float64, error) {
	var doc struct {
		Numbers yaml.Node `yaml:"numbers"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) { // an empty file sets no rate
		return nil, fmt.Errorf("parse: %w", err)
	}
	n := doc.Numbers
	if n.Kind == 0 {
		return map[string]float64{}, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: numbers: want a map of number to rate", n.Line)
	}
	out := make(map[string]float64, len(n.Content)/2)
	var errs []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		num, err := phone.ParseE164(k.Value)
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %q: %w", k.Line, k.Value, err))
			continue
		}
		if _, dup := out[num]; dup {
			errs = append(errs, fmt.Errorf("line %d: %s given twice", k.Line, num))
			continue
		}
		r, err := parseRate(v.Value)
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %s: %w", v.Line, num, err))
			continue
		}
		out[num] = r
	}
	return out, errors.Join(errs...)
}

// parseRate reads "20", "20/s", "75/min" or "1000/h" as segments per second.
func parseRate(s string) (float64, error) {
	num, unit, _ := strings.Cut(strings.TrimSpace(s), "/")
	per := map[string]float64{"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}[strings.TrimSpace(unit)]
	r, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || per == 0 || r < 0 || math.IsInf(r, 0) || math.IsNaN(r) {
		return 0, fmt.Errorf("rate %q: want segments per second, or N/s, N/min, N/h (0 for no limit)", s)
	}
	return r / per, nil
}
