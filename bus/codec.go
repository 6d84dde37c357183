package bus

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/razar/razar"
)

// Encode stamps p with the current Version and marshals it.
func Encode(p Payload) ([]byte, error) {
	p.setVersion()
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", p.Kind(), err)
	}
	return b, nil
}

// Decode unmarshals data into p and validates it. Unknown fields are allowed
// (a newer peer may add some); a missing or newer "v", a wrong type or a
// missing required field fails with *razar.DecodeError naming the field.
// An empty body decodes as a zero LifecycleRequest or ProbeRequest, and
// those two may leave "v" out.
func Decode(data []byte, p Payload) error {
	if len(data) == 0 {
		if _, ok := p.(emptyBody); ok {
			return nil
		}
		return &razar.DecodeError{Type: p.Kind(), Err: errors.New("empty message")}
	}
	if err := json.Unmarshal(data, p); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			// The version lives in the embedded versioned struct, which
			// encoding/json names in the path; on the wire it is just "v".
			return &razar.DecodeError{Type: p.Kind(), Field: strings.TrimPrefix(te.Field, "versioned."), Err: fmt.Errorf("want %s, got %s", te.Type, te.Value)}
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return &razar.DecodeError{Type: p.Kind(), Err: fmt.Errorf("not JSON (byte %d): %v", se.Offset, se)}
		}
		return &razar.DecodeError{Type: p.Kind(), Err: err}
	}
	switch v := p.version(); {
	case v == 0:
		if _, ok := p.(emptyBody); !ok {
			return &razar.DecodeError{Type: p.Kind(), Field: "v", Err: fmt.Errorf("missing: set \"v\": %d", Version)}
		}
	case v < 0 || v > Version:
		return &razar.DecodeError{Type: p.Kind(), Field: "v", Err: fmt.Errorf("%w %d: this build reads %d", errVersion, v, Version)}
	}
	if err := p.Check(); err != nil {
		field := ""
		var fe *fieldError
		if errors.As(err, &fe) {
			field = fe.field
		}
		return &razar.DecodeError{Type: p.Kind(), Field: field, Err: err}
	}
	return nil
}
