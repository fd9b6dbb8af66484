// Package natstest runs real NATS servers with JetStream in-process, on
// loopback ports with temporary storage: for tests of the NATS store and
// for `make demo-team`.
package natstest

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Run starts one server with JetStream storing under dir, on a free
// loopback port (or port, if not 0).
func Run(dir string, port int) (*server.Server, error) {
	if port == 0 {
		var err error
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	return start(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoSigs: true})
}

func start(opts *server.Options) (*server.Server, error) {
	opts.NoLog, opts.NoSigs = true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, err
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("nats server on port %d did not start", opts.Port)
	}
	return srv, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start runs one server for the test, stopped when it ends, and returns
// its nats:// URL.
func Start(t testing.TB) string {
	t.Helper()
	srv, err := Run(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv.ClientURL()
}

// Cluster is n servers in one JetStream cluster on loopback.
type Cluster struct {
	Servers []*server.Server
	opts    []*server.Options
}

// StartCluster runs an n-node cluster for the test and waits until
// JetStream has a meta leader.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{}
	routes := make([]int, n)
	for i := range routes {
		p, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		routes[i] = p
	}
	var urls []string
	for _, p := range routes {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	for i := range n {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		o := &server.Options{ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: t.TempDir(),
			Cluster: server.ClusterOpts{Name: "dt", Host: "127.0.0.1", Port: routes[i]}}
		o.Routes = server.RoutesFromStr(joinExcept(urls, i))
		srv, err := start(o)
		if err != nil {
			c.Shutdown()
			t.Fatal(err)
		}
		c.Servers = append(c.Servers, srv)
		c.opts = append(c.opts, o)
	}
	t.Cleanup(c.Shutdown)
	// A leader alone is not enough: placing a stream with replicas n
	// needs every peer known to it and every server current.
	deadline := time.Now().Add(30 * time.Second)
	for !c.formed(n) {
		if time.Now().After(deadline) {
			t.Fatalf("the JetStream cluster did not form with %d peers in 30s", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return c
}

func joinExcept(urls []string, skip int) string {
	s := ""
	for i, u := range urls {
		if i == skip {
			continue
		}
		if s != "" {
			s += ","
		}
		s += u
	}
	return s
}

// URL lists every server, for a client that fails over.
func (c *Cluster) URL() string {
	s := "nats://"
	for i, srv := range c.Servers {
		if i > 0 {
			s += ","
		}
		s += srv.Addr().String()
	}
	return s
}

// Leader is the JetStream meta leader, nil while there is none.
func (c *Cluster) Leader() *server.Server {
	for _, s := range c.Servers {
		if s.Running() && s.JetStreamIsLeader() {
			return s
		}
	}
	return nil
}

func (c *Cluster) formed(n int) bool {
	l := c.Leader()
	if l == nil || len(l.JetStreamClusterPeers()) < n {
		return false
	}
	for _, s := range c.Servers {
		if !s.JetStreamIsCurrent() {
			return false
		}
	}
	return true
}

// Shutdown stops every server.
func (c *Cluster) Shutdown() {
	for _, s := range c.Servers {
		s.Shutdown()
	}
}
