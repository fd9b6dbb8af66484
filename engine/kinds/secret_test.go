package kinds

import (
	"reflect"
	"testing"
)

func TestTemplateRefs(t *testing.T) {
	tests := []struct {
		text    string
		refs    []string
		dynamic bool
	}{
		{"plain text", nil, false},
		{"{{.A}} {{.B.C}} {{if .D}}{{.E}}{{else}}{{.F}}{{end}}", []string{"A", "B", "D", "E", "F"}, false},
		{`{{printf "%s" .A | printf "%q"}} {{$x := .B}}{{$x}} {{$.C}}`, []string{"A", "B", "C"}, false},
		{`{{define "u"}}{{.A}}{{end}}{{template "u" .}}`, []string{"A"}, true},
		{"{{.}}", nil, true},
		{`{{index . "A"}}`, nil, true},
		{"{{range .L}}{{.X}}{{end}}", []string{"L", "X"}, true},
		{"{{with .W}}{{.}}{{end}}", []string{"W"}, true},
		{"{{$x := .}}{{$x.A}}", nil, true},
		{"{{$}}", nil, true},
	}
	for _, tt := range tests {
		refs, dyn, err := TemplateRefs("t", tt.text)
		if err != nil {
			t.Fatalf("%q: %v", tt.text, err)
		}
		want := map[string]bool{}
		for _, r := range tt.refs {
			want[r] = true
		}
		if !reflect.DeepEqual(refs, want) || dyn != tt.dynamic {
			t.Errorf("%q: refs %v dynamic %v, want %v %v", tt.text, refs, dyn, want, tt.dynamic)
		}
	}
	if _, _, err := TemplateRefs("t", "{{.A"); err == nil {
		t.Error("a template that does not parse should be an error")
	}
}

func TestSecretDiff(t *testing.T) {
	a, b := "0123456789abcdef", "fedcba9876543210"
	for _, tt := range []struct{ old, new, want string }{
		{a, b, "secret changed (sha256 prefix 0123456789ab → fedcba987654)\n"},
		{"", b, "secret created (sha256 prefix fedcba987654)\n"},
		{a, "", "secret deleted (sha256 prefix 0123456789ab)\n"},
		{a, a, ""},
	} {
		if got := SecretDiff(tt.old, tt.new); got != tt.want {
			t.Errorf("SecretDiff(%q, %q) = %q, want %q", tt.old, tt.new, got, tt.want)
		}
	}
}
