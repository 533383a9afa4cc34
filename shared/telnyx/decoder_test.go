package telnyx_test

import (
	stdjson "encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	json "github.com/go-json-experiment/json/v1"
)

// plainEvent is a webhook as a struct without custom decoders, so both decoders' own rules meet it: field
// names matched without regard to case, repeated names (the last wins), numbers into strings and ints.
type plainEvent struct {
	Data struct {
		EventType string `json:"event_type"`
		ID        string `json:"id"`
		Payload   struct {
			ID   string `json:"id"`
			Text string `json:"text"`
			From struct {
				PhoneNumber string `json:"phone_number"`
			} `json:"from"`
			To []struct {
				PhoneNumber string `json:"phone_number"`
			} `json:"to"`
		} `json:"payload"`
	} `json:"data"`
	Meta struct {
		Attempt int `json:"attempt"`
	} `json:"meta"`
}

// FuzzDecoderAgreesWithEncodingJSON holds the decoder the webhook, event and store code uses (encoding/json/v2's
// v1 mode, go-json-experiment/json/v1) to encoding/json's answer on any input: whether it decodes, and to what,
// both as generic values and as a struct. The seeds run in every `go test`; `go test -fuzz` searches further.
func FuzzDecoderAgreesWithEncodingJSON(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"data":{"event_type":"a","EVENT_TYPE":"b"}}`,        // case-insensitive names
		`{"data":{"id":"1","id":"2"}}`,                        // a repeated name
		"{\"data\":{\"id\":\"\xff\xfe\"}}",                    // invalid UTF-8
		`{"data":{"id":"\ud800"}}`,                            // a lone surrogate
		`{"meta":{"attempt":1e3}}`, `{"meta":{"attempt":-0}}`, // numbers
		`{"data":{"payload":{"to":{"phone_number":"+1"}}}}`, // an object where a list goes
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
		`{"a":1}trailing`, ` {"a":1} `, `{"a":01}`, `"\u0000"`, `nul`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var stdAny, anyV any
		stdErr, err := stdjson.Unmarshal(b, &stdAny), json.Unmarshal(b, &anyV)
		if (stdErr == nil) != (err == nil) {
			t.Fatalf("as a value: encoding/json error %v, ours %v", stdErr, err)
		}
		if err == nil && !reflect.DeepEqual(stdAny, anyV) {
			t.Fatalf("as a value: encoding/json %#v, ours %#v", stdAny, anyV)
		}
		var stdEv, ev plainEvent
		stdErr, err = stdjson.Unmarshal(b, &stdEv), json.Unmarshal(b, &ev)
		if (stdErr == nil) != (err == nil) {
			t.Fatalf("as an event: encoding/json error %v, ours %v", stdErr, err)
		}
		if err == nil && !reflect.DeepEqual(stdEv, ev) {
			t.Fatalf("as an event: encoding/json %+v, ours %+v", stdEv, ev)
		}
	})
}
