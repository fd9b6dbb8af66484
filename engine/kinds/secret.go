package kinds

import (
	"fmt"
	"text/template/parse"
)

// SecretPrefix is how many hex digits of a secret content's sha256 faces
// show: enough to tell versions apart, as a diff would.
const SecretPrefix = 12

// SecretDiff is what a diff of secret content says instead of its lines.
// oldHash is "" when the content is created, newHash when deleted.
func SecretDiff(oldHash, newHash string) string {
	switch {
	case oldHash == "" && newHash == "":
		return ""
	case oldHash == "":
		return fmt.Sprintf("secret created (sha256 prefix %s)\n", prefix(newHash))
	case newHash == "":
		return fmt.Sprintf("secret deleted (sha256 prefix %s)\n", prefix(oldHash))
	case oldHash == newHash:
		return ""
	}
	return fmt.Sprintf("secret changed (sha256 prefix %s → %s)\n", prefix(oldHash), prefix(newHash))
}

func prefix(h string) string {
	if len(h) > SecretPrefix {
		return h[:SecretPrefix]
	}
	return h
}

// MaskSecret replaces a change's diff with the secret line: no byte of
// the old or new content is left in it.
func MaskSecret(c *Change) {
	c.Secret, c.Binary = true, false
	oldHash, newHash := c.OldHash, c.NewHash
	switch c.Effect {
	case EffectCreate:
		oldHash = ""
	case EffectDelete:
		newHash = ""
	case EffectUnchanged, EffectSkip, EffectError:
		c.Diff = ""
		return
	}
	c.Diff = SecretDiff(oldHash, newHash)
}

// MaskSecretFile is MaskSecret for a path an exec changed.
func MaskSecretFile(fc *FileChange) {
	fc.Secret, fc.Binary = true, false
	oldHash, newHash := fc.OldHash, fc.NewHash
	switch fc.Effect {
	case EffectCreate:
		oldHash = ""
	case EffectDelete:
		newHash = ""
	}
	fc.Diff = SecretDiff(oldHash, newHash)
}

// TemplateRefs lists the top-level variables a template names (.NAME,
// $.NAME), in every template it defines. dynamic says it also reaches
// variables in ways that cannot be listed ({{.}}, index . "X", $x.NAME,
// a changed dot): then any variable may be in its output.
func TemplateRefs(name, text string) (refs map[string]bool, dynamic bool, err error) {
	t, err := ParseTemplate(name, text)
	if err != nil {
		return nil, false, err
	}
	refs = map[string]bool{}
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case nil:
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			dynamic = true // dot is each element: .X is not a variable
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			dynamic = true
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.TemplateNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n == nil {
				return
			}
			for _, c := range n.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.FieldNode:
			refs[n.Ident[0]] = true
		case *parse.ChainNode:
			walk(n.Node)
		case *parse.VariableNode:
			switch {
			case len(n.Ident) > 1 && n.Ident[0] == "$":
				refs[n.Ident[1]] = true
			case len(n.Ident) == 1 && n.Ident[0] == "$":
				dynamic = true // the whole map
			case len(n.Ident) > 1:
				dynamic = true // a variable bound to something else
			}
		case *parse.DotNode:
			dynamic = true
		}
	}
	for _, d := range t.Templates() {
		if d.Tree != nil {
			walk(d.Tree.Root)
		}
	}
	return refs, dynamic, nil
}
