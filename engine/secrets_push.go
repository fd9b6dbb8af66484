package engine

import (
	"fmt"
	"maps"

	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/engine/kinds"
	"github.com/discoterm/discoterm/store"
)

// pushSecrets is a host's classification at push time: what a plan does
// not keep (secret variables, templates rendered from them) is taken from
// it, and checked against the hashes the plan kept.
type pushSecrets struct {
	vars   map[string]string
	host   hostSecrets
	clsErr error // the classification file could not be read
}

func (s pushSecrets) usable(hp HostPlan) error {
	if s.clsErr != nil {
		return fmt.Errorf("%s needs its secret variables from the classification file, which cannot be read: %v; fix it and push again", hp.Name, s.clsErr)
	}
	return nil
}

// env is what the push exports: the plan's variables, and the secret
// ones read again, refused as stale unless they are what was planned.
func (s pushSecrets) env(p *Plan, hp HostPlan) (map[string]string, error) {
	if len(hp.SecretEnv) == 0 {
		return hp.Env, nil
	}
	if err := s.usable(hp); err != nil {
		return nil, err
	}
	env := maps.Clone(hp.Env)
	if env == nil {
		env = map[string]string{}
	}
	now := hostEnv(s.vars)
	for _, n := range hp.SecretEnv {
		v, ok := now[n]
		if !ok {
			return nil, fmt.Errorf("%w: secret variable %s of %s is no longer set in the classification file; re-plan", ErrStale, n, hp.Name)
		}
		env[n] = v
	}
	if envSum(env, hp.SecretEnv) != hp.SecretsSum {
		return nil, fmt.Errorf("%w: the secret variables of %s changed since plan %s; re-plan", ErrStale, hp.Name, p.ID)
	}
	return env, nil
}

// render makes a secret template's content again for the push, exactly
// as reviewed or not at all.
func (s pushSecrets) render(tx store.Tx, p *Plan, hp HostPlan, en journal.Entry, k kinds.Kind) ([]byte, error) {
	if err := s.usable(hp); err != nil {
		return nil, err
	}
	src, err := tx.Blob(en.Blob)
	if err != nil {
		return nil, err
	}
	out, err := k.Render(en, src, withFacts(s.vars, hp.Facts))
	if err != nil {
		return nil, fmt.Errorf("%w: seq %d (%s) no longer renders for %s: %s; re-plan", ErrStale, en.Seq, en.Summary(), hp.Name, s.host.redact(err.Error()))
	}
	if sha(out) != hp.Rendered[en.Seq] {
		return nil, fmt.Errorf("%w: seq %d (%s) renders differently for %s than in plan %s: its variables changed; re-plan", ErrStale, en.Seq, en.Summary(), hp.Name, p.ID)
	}
	return out, nil
}
