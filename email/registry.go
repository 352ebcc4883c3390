package email

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
)

// TemplateDef is one template of the catalog.
type TemplateDef struct {
	Key            string // e.g. "welcome", "transactional/receipt"
	DefaultSubject string
	Category       Category
	// Preview is the preheader text (nil = none), computed from the merged props.
	Preview func(Props) string
	// Examples are sample props for the admin preview and send-test.
	Examples Props
	// HTML is required: a template from ParseHTML (rendered inside the shared layout), or any
	// html/template that renders a whole document itself.
	HTML *htmltemplate.Template
	// Text is optional; nil derives the plain-text part from the HTML.
	Text *texttemplate.Template
}

// Rendered is a template rendered for one send.
type Rendered struct {
	Subject  string
	Category Category
	Preview  string
	HTML     string
	Text     string
}

// Registry holds the templates in registration (catalog) order.
type Registry struct {
	defs  []TemplateDef
	byKey map[string]int
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{byKey: map[string]int{}} }

// Errors of Register and Render.
var (
	ErrDuplicateTemplate = errors.New("duplicate template key")
	ErrTemplateNotFound  = errors.New("template not found")
)

// Register adds a template; a duplicate key or a missing HTML part is an error.
func (r *Registry) Register(def TemplateDef) error {
	switch {
	case strings.TrimSpace(def.Key) == "":
		return errors.New("template key is required")
	case def.HTML == nil:
		return fmt.Errorf("template %q: HTML is required", def.Key)
	}
	if _, dup := r.byKey[def.Key]; dup {
		return fmt.Errorf("%w %q", ErrDuplicateTemplate, def.Key)
	}
	r.byKey[def.Key] = len(r.defs)
	r.defs = append(r.defs, def)
	return nil
}

// MustRegister is Register that panics (at program start).
func (r *Registry) MustRegister(defs ...TemplateDef) *Registry {
	for _, d := range defs {
		if err := r.Register(d); err != nil {
			panic(err)
		}
	}
	return r
}

// Keys are the template keys in catalog order.
func (r *Registry) Keys() []string {
	keys := make([]string, len(r.defs))
	for i, d := range r.defs {
		keys[i] = d.Key
	}
	return keys
}

// Get finds a template.
func (r *Registry) Get(key string) (TemplateDef, bool) {
	i, ok := r.byKey[key]
	if !ok {
		return TemplateDef{}, false
	}
	return r.defs[i], true
}

// previewKey carries the preheader into the layout; applications do not set it.
const previewKey = "hogsendPreview"

// Render renders a template with props (which templates must tolerate missing keys of).
func (r *Registry) Render(key string, props Props) (Rendered, error) {
	def, ok := r.Get(key)
	if !ok {
		return Rendered{}, fmt.Errorf("%w: %q", ErrTemplateNotFound, key)
	}
	data := make(Props, len(props)+1)
	for k, v := range props {
		data[k] = v
	}
	out := Rendered{Subject: def.DefaultSubject, Category: def.Category}
	if def.Preview != nil {
		out.Preview = def.Preview(data)
		data[previewKey] = out.Preview
	}
	var html bytes.Buffer
	name := def.HTML.Name()
	if def.HTML.Lookup(layoutName) != nil && def.HTML.Lookup(contentName) != nil {
		name = layoutName
	}
	if err := def.HTML.ExecuteTemplate(&html, name, data); err != nil {
		return Rendered{}, fmt.Errorf("render template %q: %w", key, err)
	}
	out.HTML = html.String()
	if def.Text != nil {
		var text bytes.Buffer
		if err := def.Text.Execute(&text, data); err != nil {
			return Rendered{}, fmt.Errorf("render template %q (text): %w", key, err)
		}
		out.Text = text.String()
	} else {
		out.Text = TextFromHTML(out.HTML)
	}
	return out, nil
}
