package verbs

import (
	"context"
	"fmt"
	"strings"

	"github.com/discoterm/discoterm/engine"
)

// trustVerb accepts the host keys of scanned hosts. Trust is an explicit
// act: one host by name with the fingerprint the operator checked, or
// every host the scanner found untrusted with --all-scanned, which first
// shows every fingerprint (and asks, unless --yes). A host is trusted only
// if the key it offers now is the one shown.
func trustVerb() *Verb {
	return &Verb{Name: "trust", Group: GroupHosts,
		Help: "accept the host key of a scanned host (HOST FINGERPRINT), or of every untrusted one (--all-scanned), showing each fingerprint",
		Args: []Arg{{Name: "HOST", Optional: true}, {Name: "FINGERPRINT", Optional: true}},
		Flags: []Flag{{Name: "all-scanned", Type: Bool, Help: "every host the scanner found untrusted"},
			{Name: "yes", Type: Bool, Help: "trust without asking (after the fingerprints are shown)"}},
		Run: runTrust}
}

func runTrust(ctx context.Context, b Backend, c *Call) (Result, error) {
	if c.Bool("all-scanned") == (c.Arg(0) != "") {
		return nil, usagef("trust needs HOST FINGERPRINT or --all-scanned: %s", c.Verb.Usage())
	}
	if !c.Bool("all-scanned") {
		if c.Arg(1) == "" {
			return nil, usagef("trust %s needs the FINGERPRINT you checked (shown by scan and hosts --json): %s", c.Arg(0), c.Verb.Usage())
		}
		if err := b.TrustHost(c.Arg(0), c.Arg(1)); err != nil {
			return nil, err
		}
		return Done{"trust", fmt.Sprintf("trusted %s (%s)", c.Arg(0), c.Arg(1))}, nil
	}
	hs, err := b.Hosts(ctx)
	if err != nil {
		return nil, err
	}
	var scanned []engine.HostView
	for _, h := range hs {
		if !h.Trusted {
			scanned = append(scanned, h)
		}
	}
	// Which may be trusted, and why the others may not: the engine's rule,
	// the console's T on a selection uses the same.
	var todo []engine.TrustCandidate
	var lines, refused []string
	for _, h := range engine.TrustCandidates(scanned, hs) {
		if h.Refused != "" {
			refused = append(refused, fmt.Sprintf("  %s  %s: %s", h.Addr, orDash(h.MAC), h.Refused))
			continue
		}
		todo = append(todo, h)
		lines = append(lines, fmt.Sprintf("  %s  %s  %s", h.Addr, orDash(h.MAC), h.Fingerprint))
	}
	notTrusted := ""
	if len(refused) > 0 {
		notTrusted = fmt.Sprintf("\nrefused, not trusted (%d):\n%s", len(refused), strings.Join(refused, "\n"))
	}
	if len(todo) == 0 {
		return Done{"trust", "no scanned host is waiting to be trusted" + notTrusted}, nil
	}
	shown := Done{"trust", fmt.Sprintf("%d scanned hosts offer these keys:\n%s%s", len(todo), strings.Join(lines, "\n"), notTrusted)}
	if !c.Bool("yes") {
		if c.Ask == nil {
			return shown, usagef("check the fingerprints above, then run again with --yes")
		}
		ok, err := c.Ask(shown, fmt.Sprintf("trust these %d host keys?", len(todo)))
		if err != nil || !ok {
			return Done{"trust", "nothing trusted"}, err
		}
	}
	var done, failed []string
	for _, h := range todo {
		if err := b.TrustHost(h.ID, h.Fingerprint); err != nil {
			failed = append(failed, fmt.Sprintf("  %s: %v", h.Addr, err))
			continue
		}
		done = append(done, fmt.Sprintf("  %s  %s", h.Addr, h.Fingerprint))
	}
	text := fmt.Sprintf("trusted %d hosts:\n%s%s", len(done), strings.Join(done, "\n"), notTrusted)
	if len(failed) > 0 {
		return Done{"trust", text + fmt.Sprintf("\nnot trusted (%d):\n%s", len(failed), strings.Join(failed, "\n"))},
			fmt.Errorf("%w: %d of %d hosts not trusted", engine.ErrHostsFail, len(failed), len(todo))
	}
	return Done{"trust", text}, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
