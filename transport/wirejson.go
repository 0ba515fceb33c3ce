package transport

// The JSON form of a published event, decoded with exact field names.
// encoding/json matches object keys case-insensitively and by Unicode case
// folding ("TOPIC", "\u212aey" for "key"), and lets a repeated key override
// an earlier one. A proxy or filter in front of the server that reads the
// object differently (most match keys exactly; some keep the first of two)
// would then see another event than the one we publish: a parser
// differential. So a field name must be exactly "topic", "event", "data" or
// "key" (after JSON unescaping: "\u0074opic" is "topic"), and each may appear
// once. The decoder still does the decoding, in one pass; checkFieldNames
// then walks the object's top-level keys, without allocating unless a key
// holds an escape.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// wireEvent is the JSON form of an event on POST /publish.
type wireEvent struct {
	Topic *string         `json:"topic"`
	Event *string         `json:"event"`
	Data  json.RawMessage `json:"data"`
	Key   *string         `json:"key"`
}

// wireFields are the field names, in the order of their bits in checkFieldNames.
var wireFields = [...]string{"topic", "event", "data", "key"}

// decodeWireEvent decodes obj, one JSON object, into a wireEvent; on error
// it returns why, as advice for the publisher.
func decodeWireEvent(obj []byte) (wireEvent, string) {
	var w wireEvent
	dec := json.NewDecoder(bytes.NewReader(obj))
	err := dec.Decode(&w)
	if err != nil && malformed(err) {
		return w, describeJSONError(err)
	}
	// The decoder reads a whole value before it decodes it, so the object
	// is valid JSON from here on.
	if why := checkFieldNames(obj); why != "" {
		return w, why
	}
	if err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return w, fmt.Sprintf("%q must be a string, not a JSON %s", typeErr.Field, typeErr.Value)
		}
		return w, describeJSONError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return w, "unexpected data after the JSON object"
	}
	return w, ""
}

// malformed reports whether a decoder's error is about the JSON text itself.
func malformed(err error) bool {
	var syntaxErr *json.SyntaxError
	return errors.As(err, &syntaxErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// checkFieldNames says what is wrong with the top-level keys of obj, which
// starts with a valid JSON object, or "".
func checkFieldNames(obj []byte) string {
	var seen uint8
	depth, key := 0, false // key: the next string at depth 1 is a key
	for i := 0; i < len(obj) && (depth > 0 || i == 0); i++ {
		switch obj[i] {
		case '{':
			depth++
			key = depth == 1
		case '[':
			depth++
		case '}', ']':
			depth--
		case ',':
			key = depth == 1
		case '"':
			end, escaped := i+1, false
			for ; obj[end] != '"'; end++ {
				if obj[end] == '\\' {
					end++
					escaped = true
				}
			}
			if key {
				name := obj[i+1 : end]
				if escaped {
					var s string
					_ = json.Unmarshal(obj[i:end+1], &s)
					name = []byte(s)
				}
				bit := -1
				for b, f := range wireFields {
					if string(name) == f { // compared without a copy
						bit = b
					}
				}
				switch {
				case bit < 0:
					return fmt.Sprintf(`unknown field %q; the fields are "topic", "event", "data" and "key", matched exactly (case matters)`, name)
				case seen&(1<<bit) != 0:
					return fmt.Sprintf("%q appears twice in the object; give each field once", name)
				}
				seen |= 1 << bit
				key = false
			}
			i = end
		}
	}
	return ""
}
