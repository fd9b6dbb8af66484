package remote

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"
)

// ProbeSandbox is the probe and the sandbox in one round trip: one
// session, started in private namespaces (sandboxCommand), runs the probe
// program, then carries out req. The sandbox's request is made before the
// probe answers, from what the store knew of the host; the caller checks
// it still holds (else it asks Sandbox again). The probe's error is the
// call's; the sandbox's is sbErr, with the probe's result still good.
func (st *Steps) ProbeSandbox(ctx context.Context, t Target, preq ProbeRequest, req SandboxRequest) (_ *ProbeResult, _ *SandboxResult, sbErr, err error) {
	p := newProgram(append(append([]string{}, probeFiles...), sandboxFiles...))
	probeCalls(p, preq)
	if err := sandboxCalls(p, req); err != nil {
		return nil, nil, nil, fmt.Errorf("probe of %s: %w", t.display(), err)
	}
	prog, err := p.text()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("probe of %s: %w", t.display(), err)
	}
	var out, errb bytes.Buffer
	limit := int(probeCap(preq)) + sandboxReplyMax(req)
	clock := &endClock{buf: &out}
	code, rerr := st.R.Run(ctx, t, sandboxCommand, strings.NewReader(prog), &capped{w: clock, n: limit}, &capped{w: &errb, n: 64 << 10})
	if ctx.Err() != nil {
		return nil, nil, nil, fmt.Errorf("probe of %s: %w", t.display(), ctx.Err())
	}
	if rerr != nil && code < 0 {
		return nil, nil, nil, rerr
	}
	// The probe's reply ends at its END line (no probe line is one).
	b := out.Bytes()
	var head, rest []byte
	switch i := bytes.Index(b, []byte("\nEND\n")); {
	case bytes.HasPrefix(b, []byte("END\n")):
		head, rest = b[:4], b[4:]
	case i >= 0:
		head, rest = b[:i+5], b[i+5:]
	default:
		return nil, nil, nil, fmt.Errorf("probe of %s exited %d: %s", t.display(), code, cleanText(trunc(strings.TrimSpace(errb.String()), 300)))
	}
	res, err := parseProbe(head, preq)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("probe of %s: %w", t.display(), err)
	}
	if st.HostKey != nil {
		res.HostKey, _ = st.HostKey(t)
	}
	res.Answered = clock.at
	sb, perr := ParseSandbox(rest)
	if perr != nil {
		return res, nil, fmt.Errorf("sandbox on %s: %w", t.display(), perr), nil
	}
	refused(sb, errb.String())
	return res, sb, nil, nil
}

// endClock keeps a reply and notes when the probe's part of it was whole
// (its END line), for the plan's clock-skew check: the sandbox after it
// may take minutes.
type endClock struct {
	buf *bytes.Buffer
	at  time.Time
}

func (c *endClock) Write(p []byte) (int, error) {
	n, err := c.buf.Write(p)
	if c.at.IsZero() {
		b := c.buf.Bytes()
		if bytes.HasPrefix(b, []byte("END\n")) || bytes.Contains(b[max(0, len(b)-len(p)-5):], []byte("\nEND\n")) {
			c.at = time.Now()
		}
	}
	return n, err
}
