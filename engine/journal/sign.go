package journal

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/ssh"
)

// Statement is the text a changeset's signature signs: the sequence
// number and hash of the changeset's last entry (the chain head when it
// was approved, which through the hash chain covers every entry before
// it, content included by its sha256), the changeset, and who approved
// it. It is plain text so that an operator can check it by hand:
//
//	discoterm --batch log main --json | … > statement
//	ssh-keygen -Y verify -f allowed_signers -I alice@example.com -n discoterm -s sig < statement
func Statement(last Entry) []byte {
	return fmt.Appendf(nil, "discoterm changeset v1\nseq %d\nhash %s\nchangeset %d\napprover %s\n",
		last.Seq, last.Hash, last.Changeset, last.Approver)
}

// SignChangeset sets Approver and Signature on the last entry of a
// changeset, which must be sealed.
func SignChangeset(signer ssh.Signer, last *Entry, approver string) error {
	if last.Hash == "" || last.Hash != last.ComputeHash() {
		return errors.New("sign: the entry is not sealed")
	}
	last.Approver = approver
	sig, err := SignSSH(signer, Namespace, Statement(*last))
	if err != nil {
		return err
	}
	last.Signature = sig
	return nil
}

// SignatureError reports the first changeset of a journal whose
// signature is missing or not by an allowed key.
type SignatureError struct {
	Branch string
	Seq    uint64 // first entry of the changeset
	Last   uint64 // its last entry, where the signature belongs
	File   string // the allowed_signers file
	Reason string
}

func (e *SignatureError) Error() string {
	rng := fmt.Sprintf("seq %d", e.Seq)
	if e.Last != e.Seq {
		rng = fmt.Sprintf("seq %d–%d", e.Seq, e.Last)
	}
	return fmt.Sprintf("journal of branch %s fails signature verification at %s: %s; "+
		"if the signer should be allowed, add their public key to %s; otherwise the store was written without an "+
		"approver's key — restore it from a backup", e.Branch, rng, e.Reason, e.File)
}

// Is lets errors.Is(err, ErrChain) match: a journal that fails its
// signatures is refused like one that fails its hash chain.
func (e *SignatureError) Is(target error) bool { return target == ErrChain }

// VerifySignatures checks that the last entry of every changeset carries
// a valid signature of its Statement by a key in allowed, at now (a
// signature checked once is remembered by allowed). The entries must
// already have passed Verify (the hash chain). It returns
// the signer of each changeset, by the seq of its last entry.
func VerifySignatures(branch string, entries []Entry, allowed *AllowedSigners, now time.Time) (map[uint64]Signer, error) {
	out := map[uint64]Signer{}
	start := 0
	for i, e := range entries {
		if i+1 < len(entries) && entries[i+1].Changeset == e.Changeset {
			continue // not the changeset's last entry
		}
		fail := func(reason string) error {
			return &SignatureError{Branch: branch, Seq: entries[start].Seq, Last: e.Seq, File: allowed.Path, Reason: reason}
		}
		if e.Signature == "" {
			return nil, fail("no signature")
		}
		s, err := allowed.Check(e.Signature, Statement(e), now)
		if err != nil {
			return nil, fail(err.Error())
		}
		out[e.Seq] = s
		start = i + 1
	}
	return out, nil
}
