// Package ptr converts between values and the pointers that stand for SQL NULL and JSON null.
package ptr

// To returns a pointer to v.
func To[T any](v T) *T { return &v }

// Deref returns *p, or the zero value when p is nil.
func Deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// NonZero returns a pointer to v, or nil when v is the zero value ("" → NULL).
func NonZero[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

// Map applies f to *p, keeping nil as nil.
func Map[T, U any](p *T, f func(T) U) *U {
	if p == nil {
		return nil
	}
	u := f(*p)
	return &u
}
