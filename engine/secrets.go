package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/discoterm/discoterm/engine/classify"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/kinds"
	"github.com/discoterm/discoterm/store"
)

// Secrets: classification variables marked secret (classify) and file
// entries staged with --secret. Their values reach hosts and nothing
// else: views show "(secret)" for a variable, diffs a line naming content
// hashes (kinds.MaskSecret), and host output has their values scrubbed.
// What the store keeps:
//
//   - a secret file entry's content, in the blob store: push needs it;
//   - for a template rendered from secret variables, only its hash and
//     the host facts it was rendered with: push renders it again from
//     the classification file and refuses the host as stale if the
//     result is not what was reviewed;
//   - for secret variables that exec entries see, their names and one
//     hash of their values: push takes the values from the
//     classification file, and refuses the host as stale if they changed.

// SecretMask is what faces show for a secret variable's value.
const SecretMask = "(secret)"

// minRedact is the shortest secret value scrubbed from host output:
// replacing every "1" in a command's output would hide more than it
// protects.
const minRedact = 4

// hostSecrets is what the engine alone knows of one host's secrets.
type hostSecrets struct {
	names  map[string]bool // secret variables the host has
	values []string        // their values, longest first, to scrub
}

// hostVars classifies a host: its variables with real values, and which
// are secret. Only the engine sees these; faces get view's masked copy.
func (e *Engine) hostVars(h store.Host, cls *classify.Config) (map[string]string, hostSecrets) {
	if cls == nil {
		return nil, hostSecrets{}
	}
	c := cls.ClassifyHost(classHost(h))
	return c.Vars, newHostSecrets(c.Vars, c.Secret)
}

func newHostSecrets(vars map[string]string, secret map[string]bool) hostSecrets {
	s := hostSecrets{names: secret}
	for n := range secret {
		if v := vars[n]; len(v) >= minRedact && !slices.Contains(s.values, v) {
			s.values = append(s.values, v)
		}
	}
	sort.Slice(s.values, func(i, j int) bool { return len(s.values[i]) > len(s.values[j]) })
	return s
}

// maskVars is vars with secret values replaced by SecretMask.
func maskVars(vars map[string]string, secret map[string]bool) map[string]string {
	if len(secret) == 0 {
		return vars
	}
	out := maps.Clone(vars)
	for n := range secret {
		if _, ok := out[n]; ok {
			out[n] = SecretMask
		}
	}
	return out
}

// redact scrubs the host's secret values from text that came back from it
// (command output, diffs of files a command wrote, errors).
func (s hostSecrets) redact(text string) string {
	for _, v := range s.values {
		if strings.Contains(text, v) {
			text = strings.ReplaceAll(text, v, SecretMask)
		}
	}
	return text
}

// templateRefs is what a template source names, by blob.
type templateRefs struct {
	names   map[string]bool
	dynamic bool
	err     bool
}

func refsOf(en journal.Entry, src []byte) templateRefs {
	names, dyn, err := kinds.TemplateRefs(en.Path, string(src))
	return templateRefs{names: names, dynamic: dyn, err: err != nil}
}

// contentSecret reports whether what en installs on this host is secret:
// a --secret entry, or a template that names one of the host's secret
// variables (or reaches variables in ways that cannot be listed).
func (s hostSecrets) contentSecret(en journal.Entry, refs map[string]templateRefs) bool {
	if en.Secret {
		return true
	}
	k, ok := kinds.Lookup(en.Kind)
	if !ok || k.Content() != kinds.ContentPerHost || len(s.names) == 0 {
		return false
	}
	r := refs[en.Blob]
	if r.err || r.dynamic {
		return true
	}
	for n := range r.names {
		if s.names[n] {
			return true
		}
	}
	return false
}

// secretPaths are the paths whose content on the host is secret after the
// applied entries (the last entry owning each path decides).
func (s hostSecrets) secretPaths(applied []journal.Entry, refs map[string]templateRefs) map[string]bool {
	out := map[string]bool{}
	for _, en := range applied {
		if owns(en) {
			out[en.Path] = en.Kind != journal.KindRemove && s.contentSecret(en, refs)
		}
	}
	return out
}

// splitEnv divides the variables exec entries see into those a plan may
// keep and the secret ones, which it keeps only by name and one hash.
func (s hostSecrets) splitEnv(env map[string]string) (plain map[string]string, names []string, sum string) {
	plain = map[string]string{}
	for k, v := range env {
		if s.names[k] {
			names = append(names, k)
		} else {
			plain[k] = v
		}
	}
	sort.Strings(names)
	return plain, names, envSum(env, names)
}

// envSum is the hash that binds a plan to the values of secret variables.
func envSum(env map[string]string, names []string) string {
	if len(names) == 0 {
		return ""
	}
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s=%q\n", n, env[n])
	}
	return hex.EncodeToString(h.Sum(nil))
}
