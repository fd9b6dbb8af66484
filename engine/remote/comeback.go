package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// A push that must come back (Bundle.ComeBack) is confirmed by a program
// run over a new connection: the pooled one was opened before the change
// and may well keep working when the change broke SSH for everyone else
// (a bad sshd_config that only a restart reads, an authorized_keys that
// no longer lets the controller in, a firewall that drops new flows).

var confirmFiles = []string{"lock.sh", "confirm.sh"}

// FreshRunner runs one command over a connection of its own: a new TCP
// connection, key exchange and authentication, closed afterwards.
type FreshRunner interface {
	RunFresh(ctx context.Context, t Target, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error)
}

// The confirm program's answers.
const (
	Confirmed = "CONFIRMED" // the push stays, its reverter stopped
	Reverted  = "REVERTED"  // too late: the host has reverted the push
	NotArmed  = "GONE"      // no revert was armed for that push
)

// Confirm tells the host, over a fresh connection, that the push with
// this token came back: its armed revert is stopped and its record
// dropped. The answer is Confirmed, Reverted or NotArmed.
func (st *Steps) Confirm(ctx context.Context, t Target, stateDir, token string) (string, error) {
	fr, ok := st.R.(FreshRunner)
	if !ok {
		return "", errors.New("this transport cannot open a fresh connection to confirm a push")
	}
	p := newProgram(confirmFiles)
	p.call("confirm", strings.TrimRight(stateDir, "/"), token)
	text, err := p.text()
	if err != nil {
		return "", err
	}
	var out, errb strings.Builder
	code, err := fr.RunFresh(ctx, t, remoteShell, strings.NewReader(text), &capWriter{w: &out, limit: 256}, &capWriter{w: &errb, limit: 4 << 10})
	if err != nil {
		return "", err
	}
	switch got := strings.TrimSpace(out.String()); got {
	case Confirmed, Reverted, NotArmed:
		return got, nil
	default:
		return "", fmt.Errorf("confirm on %s: unexpected answer %q (exit %d): %s", t.display(), cleanText(trunc(got, 60)), code, cleanText(trunc(strings.TrimSpace(errb.String()), 200)))
	}
}

// RunFresh runs cmd like Run, but over a connection dialled for it alone
// (host key checked as for the pool), closed when the command ends or
// ctx does.
func (c *Client) RunFresh(ctx context.Context, t Target, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	r := c.resolve(t)
	dctx, cancel := context.WithTimeout(ctx, c.opts.ConnectTimeout)
	conn, _, _, err := c.dial(dctx, r)
	cancel()
	if err != nil {
		return -1, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	s, err := conn.NewSession()
	if err != nil {
		return -1, &UnreachableError{Host: r.display, Port: r.t.Port, Err: err}
	}
	defer s.Close()
	c.counters(r.key).sessions.Add(1)
	s.Stdin, s.Stdout, s.Stderr = stdin, stdout, stderr
	err = s.Run(cmd)
	if ctx.Err() != nil {
		return -1, fmt.Errorf("%s: %w", r.display, ctx.Err())
	}
	return exitStatus(r, err)
}
