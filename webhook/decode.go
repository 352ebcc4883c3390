package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// Issues is why a payload was refused, in the flattened shape of the reference's validator:
// problems with the whole body, and problems per top-level field.
type Issues struct {
	FormErrors  []string            `json:"formErrors"`
	FieldErrors map[string][]string `json:"fieldErrors"`
}

func (is *Issues) Error() string {
	parts := append([]string(nil), is.FormErrors...)
	for f, msgs := range is.FieldErrors {
		for _, m := range msgs {
			parts = append(parts, f+": "+m)
		}
	}
	return "invalid payload: " + strings.Join(parts, "; ")
}

// Field records a problem with a field; a dotted path is filed under its top-level name.
func (is *Issues) Field(path, format string, args ...any) {
	top, _, _ := strings.Cut(path, ".")
	msg := fmt.Sprintf(format, args...)
	if top != path {
		msg = path + ": " + msg
	}
	if is.FieldErrors == nil {
		is.FieldErrors = map[string][]string{}
	}
	is.FieldErrors[top] = append(is.FieldErrors[top], msg)
}

// Form records a problem with the body as a whole.
func (is *Issues) Form(format string, args ...any) {
	is.FormErrors = append(is.FormErrors, fmt.Sprintf(format, args...))
}

// Required records path as missing when v is nil.
func (is *Issues) Required(path string, v *string) {
	if v == nil {
		is.Field(path, "Required")
	}
}

// Err is the issues as an error, or nil when there are none.
func (is *Issues) Err() error {
	if len(is.FormErrors) == 0 && len(is.FieldErrors) == 0 {
		return nil
	}
	if is.FormErrors == nil {
		is.FormErrors = []string{}
	}
	if is.FieldErrors == nil {
		is.FieldErrors = map[string][]string{}
	}
	return is
}

// AsIssues turns any decode error into Issues (a plain error becomes a form error).
func AsIssues(err error) *Issues {
	var is *Issues
	if errors.As(err, &is) {
		return is
	}
	out := &Issues{}
	out.Form("%s", err.Error())
	_ = out.Err()
	return out
}

// Validator is a payload that checks what unmarshalling cannot: required fields, enums.
type Validator interface {
	Validate(is *Issues)
}

// Decode unmarshals raw into a new T and validates it. Unknown members are allowed; a member
// of the wrong JSON type is an issue on its field.
func Decode[T any](raw []byte) (*T, error) {
	p := new(T)
	if err := json.Unmarshal(raw, p); err != nil {
		return nil, typeIssues(err)
	}
	if v, ok := any(p).(Validator); ok {
		is := &Issues{}
		v.Validate(is)
		if err := is.Err(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func typeIssues(err error) error {
	is := &Issues{}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		msg := fmt.Sprintf("Expected %s, received %s", jsonKind(te.Type), te.Value)
		if te.Field == "" {
			is.Form("%s", msg)
		} else {
			is.Field(te.Field, "%s", msg)
		}
	} else {
		is.Form("%s", err.Error())
	}
	return is.Err()
}

// jsonKind names a Go type the way a JSON schema would.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8,
		reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	}
	return t.String()
}

// Opt is an optional member that must not be null: absent leaves Set false, null is refused.
type Opt[T any] struct {
	Value T
	Set   bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *Opt[T]) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return &json.UnmarshalTypeError{Value: "null", Type: reflect.TypeFor[T]()}
	}
	if err := json.Unmarshal(b, &o.Value); err != nil {
		return err
	}
	o.Set = true
	return nil
}

// Str is the string s points to, or "".
func Str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Object is v as a JSON object, or nil when it is something else.
func Object(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// Merge copies the maps into one, later keys winning (nil maps are skipped).
func Merge(maps ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}
