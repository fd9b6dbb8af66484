package natstest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// Operator is a server in operator (decentralised JWT) mode, the way a
// team authenticates its operators: each user's credential is signed by
// the account, which the operator signed; the server checks the chain.
type Operator struct {
	URL     string
	account nkeys.KeyPair
	dir     string
}

// StartOperator runs a JetStream server in operator mode for the test.
func StartOperator(t testing.TB) *Operator {
	t.Helper()
	o, srv, err := runOperator(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return o
}

func runOperator(dir string) (*Operator, *server.Server, error) {
	okp, _ := nkeys.CreateOperator()
	opub, _ := okp.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	oc.Name = "discoterm-test"
	resolver := &server.MemAccResolver{}
	account := func(name string, js bool) (nkeys.KeyPair, string, error) {
		akp, _ := nkeys.CreateAccount()
		apub, _ := akp.PublicKey()
		ac := jwt.NewAccountClaims(apub)
		ac.Name = name
		if js {
			ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
		}
		aj, err := ac.Encode(okp)
		if err != nil {
			return nil, "", err
		}
		return akp, apub, resolver.Store(apub, aj)
	}
	_, sysPub, err := account("SYS", false)
	if err != nil {
		return nil, nil, err
	}
	akp, _, err := account("OPS", true)
	if err != nil {
		return nil, nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	srv, err := start(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: filepath.Join(dir, "js"),
		TrustedOperators: []*jwt.OperatorClaims{oc}, AccountResolver: resolver, SystemAccount: sysPub})
	if err != nil {
		return nil, nil, err
	}
	return &Operator{URL: srv.ClientURL(), account: akp, dir: dir}, srv, nil
}

// Creds writes a credentials file for a user called name and returns its
// path.
func (o *Operator) Creds(t testing.TB, name string) string {
	t.Helper()
	ukp, _ := nkeys.CreateUser()
	upub, _ := ukp.PublicKey()
	uc := jwt.NewUserClaims(upub)
	uc.Name = name
	uj, err := uc.Encode(o.account)
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := ukp.Seed()
	b, err := jwt.FormatUserConfig(uj, seed)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(o.dir, fmt.Sprintf("%s.creds", name))
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
