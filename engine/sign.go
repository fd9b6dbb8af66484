package engine

import (
	"fmt"
	"os"
	"sync"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/store"
)

// signers caches the allowed_signers file, re-read when it changes; it
// also remembers the signatures it verified (journal.AllowedSigners does),
// so a long journal is checked once per process.
type signers struct {
	mu   sync.Mutex
	sig  string
	as   *journal.AllowedSigners
	err  error
	path string
}

func (s *signers) load(path string) (*journal.AllowedSigners, error) {
	fi, err := os.Stat(path)
	sig := ""
	if err == nil {
		sig = fmt.Sprintf("%d/%d", fi.Size(), fi.ModTime().UnixNano())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.as != nil && s.path == path && s.sig == sig && sig != "" {
		return s.as, s.err
	}
	s.as, s.err = journal.LoadAllowedSigners(path)
	s.path, s.sig = path, sig
	return s.as, s.err
}

// allowedSigners returns the parsed allowed_signers file, nil when none is
// configured.
func (e *Engine) allowedSigners() (*journal.AllowedSigners, error) {
	if e.opts.AllowedSigners == "" {
		return nil, nil
	}
	return e.signers.load(e.opts.AllowedSigners)
}

// errNoAllowedSigners is why a push is refused without an allowed_signers
// file: without one nobody can tell a journal approved by an operator from
// one written into the store by someone else.
func errNoAllowedSigners() error {
	return fmt.Errorf("%w: no allowed_signers file is configured, so the journal's signatures cannot be checked and nothing is pushed; "+
		"list the operators allowed to approve, one line each (e.g. echo \"alice@example.com $(cat ~/.ssh/id_ed25519.pub)\" >> ~/.config/discoterm/allowed_signers), "+
		"or name the file with --allowed-signers FILE", ErrUsage)
}

// verifySigned checks the signature of every changeset of a journal that
// passed its hash chain. Without an allowed_signers file nothing is
// checked here; push refuses on its own (errNoAllowedSigners).
func (e *Engine) verifySigned(branch string, entries []journal.Entry) error {
	as, err := e.allowedSigners()
	if err != nil || as == nil {
		return err
	}
	_, err = journal.VerifySignatures(branch, entries, as, e.now())
	return err
}

// signChangeset signs the last of the entries being committed with the
// operator's key, after checking that the key is one push will accept.
func (e *Engine) signChangeset(sealed []journal.Entry) error {
	if len(sealed) == 0 {
		return nil
	}
	if e.opts.Signer == nil {
		return fmt.Errorf("%w: approving commits a changeset, which is signed with your SSH key, and no key is available: "+
			"start ssh-agent with your key loaded, or name a key with --signing-key FILE", ErrUsage)
	}
	as, err := e.allowedSigners()
	if err != nil {
		return err
	}
	if as != nil {
		if err := as.Allows(e.opts.Signer.PublicKey(), e.now()); err != nil {
			return fmt.Errorf("%w: %v: push would refuse this changeset; add your public key to %s first", ErrUsage, err, as.Path)
		}
	}
	return journal.SignChangeset(e.opts.Signer, &sealed[len(sealed)-1], e.opts.Operator)
}

// loadJournal returns a branch and its verified journal: a journal that
// was edited, reordered, truncated or not signed by an allowed key is
// refused, naming the first bad sequence number.
func (e *Engine) loadJournal(tx store.Tx, branch string) (store.Branch, []journal.Entry, error) {
	b, entries, err := loadJournal(tx, branch)
	if err != nil {
		return b, nil, err
	}
	if err := e.verifySigned(branch, entries); err != nil {
		return b, nil, err
	}
	return b, entries, nil
}
