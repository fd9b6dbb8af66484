package kinds

import (
	"bytes"
	"fmt"
	"text/template"
	"unicode/utf8"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/remote"
)

// tmpl is a Go text/template rendered per host from the host's variables,
// then installed like a file.
type tmpl struct{}

func init() { Register(tmpl{}) }

func (tmpl) Name() journal.Kind { return journal.KindTemplate }

func (tmpl) Spec() Spec {
	return Spec{Verb: "template", Args: "LOCALFILE", Help: "stage a Go text/template rendered per host",
		Flags: fileFlags, MinArgs: 1, MaxArgs: 1}
}

func (tmpl) Request(in Input) (Request, error) {
	return fileRequest(journal.KindTemplate, "template", in, false)
}

func (tmpl) Stage(req Request) (journal.Entry, error) {
	e, err := stageFile(req)
	if err != nil {
		return e, err
	}
	name := req.Source
	if name == "" {
		name = req.Path
	}
	if !utf8.Valid(req.Content) || bytes.IndexByte(req.Content, 0) >= 0 {
		return e, fmt.Errorf("template %s is not UTF-8 text", name)
	}
	if _, err := ParseTemplate(name, string(req.Content)); err != nil {
		return e, err
	}
	return e, nil
}

// ParseTemplate compiles template text the way plans render it: a
// missing variable is an error, not an empty string.
func ParseTemplate(name, text string) (*template.Template, error) {
	return template.New(name).Option("missingkey=error").Parse(text)
}

func (tmpl) Check(e journal.Entry) error { return checkFile(e) }

func (tmpl) Content() ContentUse { return ContentPerHost }

// Render executes the template for one host. Errors carry the template's
// path and line.
func (tmpl) Render(e journal.Entry, src []byte, vars map[string]string) ([]byte, error) {
	t, err := ParseTemplate(e.Path, string(src))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, vars); err != nil {
		return nil, fmt.Errorf("%v", err)
	}
	return b.Bytes(), nil
}

func (tmpl) Needs(e journal.Entry) Needs { return Needs{Paths: []string{e.Path}} }

func (tmpl) Fetch(e journal.Entry, want []byte, cur remote.PathInfo) bool {
	return !e.Secret && fetchForFile(want, cur)
}

func (tmpl) Simulate(e journal.Entry, want []byte, h *Host) Change { return simulateFile(e, want, h) }

func (tmpl) Op(e journal.Entry, content []byte) remote.BundleEntry { return fileOp(e, content) }

func (tmpl) Summary(e journal.Entry) string { return e.Path }

func (tmpl) Details(e journal.Entry) string { return fileDetails(e) }
