package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATSOptions configure OpenNATS.
type NATSOptions struct {
	// URL is nats://[USER[:PASS]@]HOST:PORT[,HOST:PORT…][/PREFIX][?replicas=N];
	// tls:// instead of nats:// requires TLS. PREFIX (default "discoterm")
	// names the streams and buckets, so several fleets can share a server.
	URL       string
	CredsFile string // NATS credentials (JWT + seed), the operator's identity
	CAFile    string // CA certificates for TLS; default: the system's
	// Replicas for streams and buckets this open creates (1–5); existing
	// ones keep theirs. The URL's replicas parameter overrides it.
	Replicas int
	// Timeout bounds each request and the wait for the store mutex;
	// 0 means DefaultTimeout.
	Timeout time.Duration
	// Operator is who is acting when the credential names no one (no
	// creds file, no user in the URL).
	Operator string
}

// Identity is implemented by stores that authenticate their users: the
// name the store's credential carries. The engine records it in locks and
// the audit trail instead of a self-declared name.
type Identity interface {
	Operator() string
}

// ErrUnavailable is returned (wrapped) when a shared store cannot be
// reached; the caller may retry later.
var ErrUnavailable = errors.New("store unreachable")

// natsStore is the shared Store on NATS JetStream:
//
//   - journals: one stream, one subject per branch, appended with an
//     expected-last-subject-sequence check;
//   - hosts, branches, locks, staged lists, plans, results, audit: keys of
//     one KV bucket, so one watcher sees every change;
//   - blobs: an object store bucket, one object per SHA-256;
//   - a store mutex: a key in a small KV bucket whose max age is its lease.
//
// Update is all-or-nothing and serialised against every other discoterm
// on the store: it takes the mutex (a KV create, so only one holder), runs
// fn against reads from the server and buffered writes, then commits by
// writing the whole write set as one intent record, applying it, and
// deleting the intent. A committer that dies half-way leaves the intent,
// and the next Update by anyone finishes applying it before its own work
// (every step is idempotent). The journal append is checked by the server
// against the subject's last sequence, so even a committer whose lease ran
// out cannot interleave entries: it gets ErrHeadMoved and writes nothing.
// What Update does not give: isolation of readers. A View running while a
// commit is being applied may see part of it (the intent is applied key by
// key); every value it reads was committed, and a re-read after the commit
// sees all of it.
type natsStore struct {
	url      string // as given, without the password
	prefix   string
	operator string
	timeout  time.Duration

	nc    *nats.Conn
	js    jetstream.JetStream
	kv    jetstream.KeyValue // state
	mutex jetstream.KeyValue // the store mutex, TTL'd
	obs   jetstream.ObjectStore
	jrnl  jetstream.Stream

	local  sync.Mutex // one Update at a time from this process
	holder []byte     // the mutex value while this process holds it
	own    revTracker // revisions this process wrote (for Watch)
	// applying is held while a commit's writes are in flight: the watcher
	// may see a write before its acknowledgement is recorded in own, so it
	// waits for the commit to finish before deciding whose it was.
	applying sync.RWMutex

	downMu    sync.Mutex
	downSince time.Time // zero while connected

	closeOnce sync.Once
}

// MutexLease is how long a crashed committer can keep others waiting for
// the store mutex.
const MutexLease = 15 * time.Second

var prefixRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// IsNATSURL reports whether a --store value names a NATS server.
func IsNATSURL(s string) bool {
	return strings.HasPrefix(s, "nats://") || strings.HasPrefix(s, "tls://")
}

// natsURL splits a store URL into the servers for nats.Connect, the
// prefix, the replicas parameter and a printable form without password.
type natsURL struct {
	servers  string
	prefix   string
	replicas int
	user     string
	shown    string
}

func parseNATSURL(raw string) (natsURL, error) {
	var u natsURL
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || (scheme != "nats" && scheme != "tls") {
		return u, fmt.Errorf("store URL %q: want nats://HOST:PORT[/PREFIX] or tls://…", raw)
	}
	rest, query, _ := strings.Cut(rest, "?")
	hosts, prefix, _ := strings.Cut(rest, "/")
	u.prefix = "discoterm"
	if prefix != "" {
		u.prefix = prefix
	}
	if !prefixRE.MatchString(u.prefix) {
		return u, fmt.Errorf("store URL %q: prefix %q: use up to 32 letters, digits, '_' or '-'", raw, u.prefix)
	}
	if query != "" {
		for _, kv := range strings.Split(query, "&") {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.Atoi(v)
			if k != "replicas" || err != nil || n < 1 || n > 5 {
				return u, fmt.Errorf("store URL %q: parameter %q: the only one known is replicas=1…5", raw, kv)
			}
			u.replicas = n
		}
	}
	userinfo := ""
	if at := strings.LastIndex(hosts, "@"); at >= 0 {
		userinfo, hosts = hosts[:at], hosts[at+1:]
		u.user, _, _ = strings.Cut(userinfo, ":")
		userinfo += "@"
	}
	if hosts == "" {
		return u, fmt.Errorf("store URL %q: no server; want nats://HOST:PORT", raw)
	}
	var servers, shown []string
	for _, h := range strings.Split(hosts, ",") {
		if h == "" || strings.ContainsAny(h, " /@") {
			return u, fmt.Errorf("store URL %q: server %q is not HOST:PORT", raw, h)
		}
		servers = append(servers, scheme+"://"+userinfo+h)
		shown = append(shown, h)
	}
	u.servers = strings.Join(servers, ",")
	who := ""
	if u.user != "" {
		who = u.user + "@"
	}
	u.shown = scheme + "://" + who + strings.Join(shown, ",") + "/" + u.prefix
	return u, nil
}

// OpenNATS connects to a NATS server with JetStream and opens (creating on
// first use) the store's streams and buckets. An unreachable server is an
// error naming the URL, with nothing written.
func OpenNATS(opts NATSOptions) (Store, error) {
	u, err := parseNATSURL(opts.URL)
	if err != nil {
		return nil, err
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	replicas := max(opts.Replicas, 1)
	if u.replicas > 0 {
		replicas = u.replicas
	}
	s := &natsStore{url: u.shown, prefix: u.prefix, timeout: timeout, operator: opts.Operator}
	if u.user != "" {
		s.operator = u.user
	}
	nopts := []nats.Option{
		nats.Name("discoterm"), nats.Timeout(timeout),
		nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond),
		// Keep what is published during an outage small: a caller gets an
		// error and retries, rather than a large buffer replayed late.
		nats.ReconnectBufSize(1 << 20),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { s.setDown(true) }),
		nats.ReconnectHandler(func(*nats.Conn) { s.setDown(false) }),
	}
	if opts.CredsFile != "" {
		name, err := credsName(opts.CredsFile)
		if err != nil {
			return nil, err
		}
		s.operator = name
		nopts = append(nopts, nats.UserCredentials(opts.CredsFile))
	}
	if opts.CAFile != "" {
		nopts = append(nopts, nats.RootCAs(opts.CAFile))
	}
	nc, err := nats.Connect(u.servers, nopts...)
	if err != nil {
		return nil, fmt.Errorf("store %s: cannot connect: %v (%w); check the URL and that nats-server runs with JetStream (-js)", u.shown, err, ErrUnavailable)
	}
	s.nc = nc
	if err := s.setup(replicas); err != nil {
		nc.Close()
		return nil, err
	}
	return s, nil
}

// credsName is the user name in a NATS credentials file's JWT. The server
// verifies the JWT's signature chain when it accepts the connection, so the
// name is as trustworthy as the server's operator configuration.
func credsName(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--nats-creds: %w", err)
	}
	tok, err := jwt.ParseDecoratedJWT(b)
	if err != nil {
		return "", fmt.Errorf("--nats-creds %s: not a NATS credentials file: %v", file, err)
	}
	uc, err := jwt.DecodeUserClaims(tok)
	if err != nil {
		return "", fmt.Errorf("--nats-creds %s: not a user JWT: %v", file, err)
	}
	if uc.Name != "" {
		return uc.Name, nil
	}
	return uc.Subject, nil
}

func (s *natsStore) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.timeout)
}

func (s *natsStore) setDown(down bool) {
	s.downMu.Lock()
	defer s.downMu.Unlock()
	switch {
	case down && s.downSince.IsZero():
		s.downSince = time.Now()
	case !down:
		s.downSince = time.Time{}
	}
}

// Unreachable reports since when the server has been unreachable (zero
// while connected).
func (s *natsStore) Unreachable() time.Time {
	s.downMu.Lock()
	defer s.downMu.Unlock()
	return s.downSince
}

func (s *natsStore) name(part string) string { return s.prefix + "-" + part }

func (s *natsStore) journalSubject(branch string) string {
	return s.prefix + ".journal." + encKey(branch)
}

// setup creates or opens the streams and buckets and checks the schema.
func (s *natsStore) setup(replicas int) error {
	ctx, cancel := s.ctx()
	defer cancel()
	js, err := jetstream.New(s.nc)
	if err != nil {
		return fmt.Errorf("store %s: %w", s.url, err)
	}
	s.js = js
	wrap := func(what string, err error) error {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrJetStreamNotEnabled) {
			return fmt.Errorf("store %s: %s: %v; is JetStream enabled on the server (nats-server -js)? (%w)", s.url, what, err, ErrUnavailable)
		}
		return fmt.Errorf("store %s: %s: %w", s.url, what, err)
	}
	if s.kv, err = openKV(ctx, js, jetstream.KeyValueConfig{Bucket: s.name("state"), History: 1, Replicas: replicas, Storage: jetstream.FileStorage}); err != nil {
		return wrap("state bucket", err)
	}
	if s.mutex, err = openKV(ctx, js, jetstream.KeyValueConfig{Bucket: s.name("mutex"), History: 1, Replicas: replicas, TTL: MutexLease, Storage: jetstream.FileStorage}); err != nil {
		return wrap("mutex bucket", err)
	}
	// A KV bucket answers reads from any replica ("direct get"), and a
	// follower may lag the leader: in a cluster an update would then not
	// see the write just before it (a head, a staged list). Reads go to
	// the stream leader instead.
	if s.kv, err = leaderReads(ctx, js, s.kv); err != nil {
		return wrap("state bucket", err)
	}
	if s.mutex, err = leaderReads(ctx, js, s.mutex); err != nil {
		return wrap("mutex bucket", err)
	}
	if s.obs, err = js.ObjectStore(ctx, s.name("blobs")); errors.Is(err, jetstream.ErrBucketNotFound) {
		s.obs, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: s.name("blobs"), Replicas: replicas, Storage: jetstream.FileStorage})
	}
	if err != nil {
		return wrap("blob bucket", err)
	}
	if s.jrnl, err = js.Stream(ctx, s.name("journal")); errors.Is(err, jetstream.ErrStreamNotFound) {
		s.jrnl, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: s.name("journal"), Subjects: []string{s.prefix + ".journal.*"},
			Replicas: replicas, Storage: jetstream.FileStorage, // no direct gets: see leaderReads
			// Append-only: nothing is ever removed from a journal.
			DenyDelete: true, DenyPurge: true, Retention: jetstream.LimitsPolicy, Discard: jetstream.DiscardNew})
	}
	if err != nil {
		return wrap("journal stream", err)
	}
	return s.checkSchema(ctx)
}

func openKV(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) { // another process created it first
			kv, err = js.KeyValue(ctx, cfg.Bucket)
		}
	}
	return kv, err
}

// leaderReads turns off direct gets on a KV bucket's stream and reopens it.
func leaderReads(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue) (jetstream.KeyValue, error) {
	name := "KV_" + kv.Bucket()
	st, err := js.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	cfg := st.CachedInfo().Config
	if cfg.AllowDirect {
		cfg.AllowDirect = false
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			return nil, err
		}
	}
	return js.KeyValue(ctx, kv.Bucket())
}

const keySchemaNATS = "meta.schema"

func (s *natsStore) checkSchema(ctx context.Context) error {
	_, err := s.kv.Create(ctx, keySchemaNATS, []byte(strconv.Itoa(SchemaVersion)))
	if err == nil || !errors.Is(err, jetstream.ErrKeyExists) {
		if err != nil {
			return fmt.Errorf("store %s: stamping the schema: %w", s.url, err)
		}
		return nil
	}
	e, err := s.kv.Get(ctx, keySchemaNATS)
	if err != nil {
		return fmt.Errorf("store %s: reading the schema: %w", s.url, err)
	}
	v, err := strconv.Atoi(string(e.Value()))
	if err != nil {
		return &CorruptRecordError{Bucket: s.name("state"), Key: keySchemaNATS, Err: fmt.Errorf("schema version %q is not a number", e.Value())}
	}
	if v > SchemaVersion {
		return &NewerSchemaError{Path: s.url, Version: v, Supported: SchemaVersion}
	}
	return nil
}

// Path is the store's URL, without any password.
func (s *natsStore) Path() string { return s.url }

// Operator is the name in the NATS credential (or the URL's user).
func (s *natsStore) Operator() string { return s.operator }

// Close drains the connection so that acknowledged writes are not cut off.
func (s *natsStore) Close() error {
	s.closeOnce.Do(func() {
		if err := s.nc.Drain(); err != nil {
			s.nc.Close()
		}
	})
	return nil
}

// mutexHolder is the mutex key's value: who to name when the wait runs out.
type mutexHolder struct {
	Operator string    `json:"operator"`
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	Since    time.Time `json:"since"`
}

const mutexKey = "update"

// lockMutex takes the store mutex, waiting at most s.timeout.
func (s *natsStore) lockMutex(ctx context.Context) (uint64, error) {
	host, _ := os.Hostname()
	s.holder = mustJSON(mutexHolder{Operator: s.operator, Host: host, PID: os.Getpid(), Since: time.Now()})
	me := s.holder
	deadline := time.Now().Add(s.timeout)
	pause := time.Millisecond
	for {
		rev, err := s.mutex.Create(ctx, mutexKey, me)
		if err == nil {
			return rev, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return 0, s.unavailable("taking the store mutex", err)
		}
		if time.Now().After(deadline) {
			var h mutexHolder
			if e, err := s.mutex.Get(ctx, mutexKey); err == nil {
				_ = json.Unmarshal(e.Value(), &h)
			}
			return 0, fmt.Errorf("store %s is busy: an update by %s on %s (PID %d) has held it since %s, more than %v; it ends by itself within %v if that process died (%w)",
				s.url, h.Operator, h.Host, h.PID, h.Since.Local().Format("15:04:05"), s.timeout, MutexLease, ErrInUse)
		}
		time.Sleep(pause)
		pause = min(pause*2, 20*time.Millisecond)
	}
}

func (s *natsStore) unlockMutex(rev uint64) {
	ctx, cancel := s.ctx()
	defer cancel()
	_ = s.mutex.Delete(ctx, mutexKey, jetstream.LastRevision(rev))
}

// unavailable wraps an error from the server, marking it ErrUnavailable
// when the connection is the cause.
func (s *natsStore) unavailable(what string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrConnectionClosed) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrDisconnected) || !s.nc.IsConnected() {
		return fmt.Errorf("store %s: %s: %v (%w)", s.url, what, err, ErrUnavailable)
	}
	return fmt.Errorf("store %s: %s: %w", s.url, what, err)
}
