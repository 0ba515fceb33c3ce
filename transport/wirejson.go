package transport

// The JSON form of a published event, decoded with exact field names.
// encoding/json matches object keys case-insensitively and by Unicode case
// folding ("TOPIC", "\u212aey" for "key"), and lets a repeated key override
// an earlier one. A proxy or filter in front of the server that reads the
// object differently (most match keys exactly; some keep the first of two)
// would then see another event than the one we publish: a parser
// differential. So a field name must be exactly "topic", "event", "data" or
// "key" (after JSON unescaping: "\u0074opic" is "topic"), and each may appear
// once.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// wireEvent is the JSON form of an event on POST /publish.
type wireEvent struct {
	Topic *string
	Event *string
	Data  json.RawMessage
	Key   *string
}

// decodeWireEvent decodes obj, one JSON object, into a wireEvent; on error
// it returns why, as advice for the publisher.
func decodeWireEvent(obj []byte) (wireEvent, string) {
	var w wireEvent
	dec := json.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.Token(); err != nil { // the caller has seen the '{'
		return w, describeJSONError(err)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return w, describeJSONError(err)
		}
		name, _ := tok.(string) // a key is always a string
		var dst **string
		switch name {
		case "topic":
			dst = &w.Topic
		case "event":
			dst = &w.Event
		case "key":
			dst = &w.Key
		case "data":
		default:
			return w, fmt.Sprintf(`unknown field %q; the fields are "topic", "event", "data" and "key", matched exactly (case matters)`, name)
		}
		if seen[name] {
			return w, fmt.Sprintf("%q appears twice in the object; give each field once", name)
		}
		seen[name] = true
		if dst == nil {
			err = dec.Decode(&w.Data)
		} else {
			err = dec.Decode(dst)
		}
		if err != nil {
			var typeErr *json.UnmarshalTypeError
			if errors.As(err, &typeErr) {
				return w, fmt.Sprintf("%q must be a string, not a JSON %s", name, typeErr.Value)
			}
			return w, describeJSONError(err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return w, describeJSONError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return w, "unexpected data after the JSON object"
	}
	return w, ""
}
