package uitest

import (
	"fmt"
	"time"

	"github.com/discoterm/discoterm/engine"
	"github.com/discoterm/discoterm/engine/journal"
	"github.com/discoterm/discoterm/store"
)

var roles = []string{"web", "db", "cache", "lb", "build", "mail"}

// hostName is web01, db02, …; large fleets get four digits.
func (f *Fake) hostName(i int) string {
	if f.opts.Hosts > 99 {
		return fmt.Sprintf("%s%04d", roles[i%len(roles)], i/len(roles)+1)
	}
	return fmt.Sprintf("%s%02d", roles[i%len(roles)], i/len(roles)+1)
}

// makeHost derives host i: mostly alive and on main, with a few lost, new,
// untrusted, behind and failed ones at fixed positions.
func (f *Fake) makeHost(i int) engine.HostView {
	now := f.now()
	br := "main"
	if i%5 == 4 {
		br = "staging"
	}
	b := f.branches[br]
	h := store.Host{
		ID:         fmt.Sprintf("m%06x", 0x51a000+i),
		Name:       f.hostName(i),
		Addr:       fmt.Sprintf("fd00:10::%x", 0x100+i),
		MAC:        fmt.Sprintf("52:54:00:%02x:%02x:%02x", i>>16&0xff, i>>8&0xff, i&0xff),
		HostKey:    fmt.Sprintf("SHA256:%043x", 0xfeed0000+i)[:50],
		Trusted:    true,
		Position:   b.meta.Head,
		StateSeen:  now.Add(-time.Duration(i%50) * time.Minute),
		LastSeen:   now.Add(-time.Duration(i%40) * time.Second),
		FirstSeen:  now.Add(-72 * time.Hour),
		RTT:        time.Duration(180+(i*137)%900) * time.Microsecond,
		Liveness:   "alive",
		Iface:      "br0",
		LastResult: "ok", LastOK: now.Add(-3 * time.Hour), LastPush: now.Add(-3 * time.Hour),
	}
	if i%3 == 1 {
		h.Addr = fmt.Sprintf("fe80::5054:ff:fe00:%x%%br0", i)
	}
	switch {
	case i%13 == 5:
		h.Liveness = "lost"
		h.LastSeen = now.Add(-time.Duration(40+i%30) * time.Minute)
	case i%17 == 3:
		h.StateSeen = time.Time{}
		h.Position, h.LastResult = 0, ""
	case i == 6 || (i > 100 && i%211 == 6):
		h.Trusted = false
	}
	if i%7 == 2 && h.Position > 3 {
		h.Position -= 3
	}
	if i%19 == 8 {
		h.LastResult, h.LastError = "failed", "exit 1: nginx -t failed"
	}
	return engine.HostView{Host: h, Branch: br, Head: b.meta.Head, Behind: int(b.meta.Head - h.Position),
		Vars: map[string]string{"role": roles[i%len(roles)]}}
}

type sample struct {
	kind    journal.Kind
	path    string
	command string
	message string
}

var samples = []sample{
	{journal.KindFile, "/etc/motd", "", "new motd for the spring release"},
	{journal.KindTemplate, "/etc/nginx/nginx.conf", "", "gzip for text assets"},
	{journal.KindExec, "", "systemctl reload nginx", "reload nginx"},
	{journal.KindFile, "/etc/ssh/sshd_config", "", "no root password logins"},
	{journal.KindExec, "", "apt-get install -y chrony", "time sync"},
	{journal.KindFile, "/etc/chrony/chrony.conf", "", "local ntp servers"},
	{journal.KindTemplate, "/etc/hosts", "", "hosts file from inventory"},
	{journal.KindReboot, "", "", "kernel 6.1.0-31"},
	{journal.KindFile, "/usr/local/bin/healthcheck", "", "healthcheck 2.3"},
}

// makeBranch builds a journal of n sealed entries, an hour apart.
func (f *Fake) makeBranch(name string, n int) *branch {
	b := &branch{meta: store.Branch{Name: name, Created: f.now().Add(-time.Duration(n+24) * time.Hour)}}
	authors := []string{"alice@jump1", "bob@jump2", "carol@ops3"}
	var prev *journal.Entry
	for i := range n {
		s := samples[i%len(samples)]
		e := journal.Entry{Kind: s.kind, Path: s.path, Command: s.command, Author: authors[i%len(authors)],
			Message: s.message, Time: f.now().Add(-time.Duration(n-i) * time.Hour), Changeset: uint64(i + 1)}
		if s.kind == journal.KindFile || s.kind == journal.KindTemplate {
			e.Blob = fmt.Sprintf("%064x", i+1)
			e.Mode, e.Owner, e.Group = 0o644, "root", "root"
		}
		sealed := journal.Seal(prev, e)
		b.entries = append(b.entries, sealed)
		prev = &b.entries[len(b.entries)-1]
	}
	if prev != nil {
		b.meta.Head, b.meta.HeadHash = prev.Seq, prev.Hash
	}
	return b
}

// planHost predicts what host i would do: the entries after its position
// and the staged ones. Most hosts share one diff per entry; every 25th has
// a locally edited file, every 50th fails its template, and the 37th of a
// big fleet is unreachable.
func (f *Fake) planHost(i int, h engine.HostView, b *branch) engine.HostPlan {
	hp := engine.HostPlan{HostID: h.ID, Name: h.Name, Addr: h.Addr, Position: h.Position,
		Fingerprint: engine.Fingerprint{Branch: b.meta.Name, Position: h.Position}, Duration: 40 * time.Millisecond}
	if h.Liveness == "lost" {
		hp.Err = "unreachable: dial tcp [" + h.Addr + "]:22: connect: no route to host"
		return hp
	}
	if !h.Trusted {
		hp.Err = "host key not in known_hosts (" + h.HostKey + ")"
		return hp
	}
	var pending []journal.Entry
	if int(h.Position) < len(b.entries) {
		pending = append(pending, b.entries[h.Position:]...)
	}
	for k, e := range b.staged {
		e.Seq = b.meta.Head + uint64(k) + 1
		pending = append(pending, e)
	}
	for k, e := range pending {
		c := engine.Change{Seq: e.Seq, Staged: k >= len(pending)-len(b.staged), Kind: e.Kind, Path: e.Path, Command: e.Command, Guard: e.Guard.String()}
		switch e.Kind {
		case journal.KindFile, journal.KindTemplate:
			c.Effect, c.Diff = engine.EffectModify, sampleDiff(e.Path, i%25 == 7)
			c.OldHash, c.NewHash = fmt.Sprintf("%064x", e.Seq), fmt.Sprintf("%064x", e.Seq+1)
			switch e.Path {
			case "/etc/ssh/sshd_config":
				c.OldMode, c.NewMode = "0644", "0600"
			case "/usr/local/bin/healthcheck":
				c.Diff, c.Binary = "", true
				c.OldMode, c.NewMode, c.OldOwner, c.NewOwner = "0644", "0755", "root:root", "root:staff"
				if i%10 == 1 {
					c.Effect, c.OldHash, c.OldMode, c.OldOwner = engine.EffectCreate, "", "", ""
				}
			}
			if e.Kind == journal.KindTemplate && i%50 == 11 {
				c.Effect, c.Diff, c.Err = engine.EffectError, "", `template: nginx.conf:12:18: executing "nginx.conf" at <.vars.workers>: map has no entry for key "workers"`
			}
			if e.Path == "/etc/hosts" && i%9 == 0 {
				c.Effect, c.Diff = engine.EffectUnchanged, ""
			}
		case journal.KindExec:
			c.Effect = engine.EffectRun
			if e.Guard.Creates != "" && i%4 == 0 {
				c.Effect = engine.EffectSkip
			}
		case journal.KindReboot:
			c.Effect = engine.EffectReboot
		}
		hp.Changes = append(hp.Changes, c)
	}
	return hp
}

// sampleDiff is a small unified diff for a path; edited marks a host whose
// file was changed by hand, so its diff differs from everyone else's.
func sampleDiff(path string, edited bool) string {
	switch path {
	case "/etc/motd":
		if edited {
			return "--- /etc/motd\n+++ /etc/motd\n@@ -1,2 +1,2 @@\n-Welcome to web — DO NOT EDIT (bob was here)\n+Welcome to the fleet — managed by discoterm\n Report problems to ops@example.org\n"
		}
		return "--- /etc/motd\n+++ /etc/motd\n@@ -1,2 +1,2 @@\n-Welcome to the fleet — winter release\n+Welcome to the fleet — spring release\n Report problems to ops@example.org\n"
	case "/etc/nginx/nginx.conf":
		d := "--- /etc/nginx/nginx.conf\n+++ /etc/nginx/nginx.conf\n@@ -28,7 +28,9 @@ http {\n \tsendfile on;\n \ttcp_nopush on;\n-\tgzip off;\n+\tgzip on;\n+\tgzip_vary on;\n+\tgzip_types text/plain text/css application/json;\n \tkeepalive_timeout 65;\n-\tworker_connections 512;\n+\tworker_connections 1024;\n \tinclude /etc/nginx/conf.d/*.conf;\n"
		if edited {
			d += "@@ -40,3 +42,3 @@\n-\tserver_tokens on;\n+\tserver_tokens off;\n \tclient_max_body_size 8m;\n"
		}
		return d
	case "/etc/ssh/sshd_config":
		return "--- /etc/ssh/sshd_config\n+++ /etc/ssh/sshd_config\n@@ -31,3 +31,3 @@\n-PermitRootLogin yes\n+PermitRootLogin prohibit-password\n PubkeyAuthentication yes\n"
	case "/etc/chrony/chrony.conf":
		return "--- /etc/chrony/chrony.conf\n+++ /etc/chrony/chrony.conf\n@@ -1,2 +1,3 @@\n-pool 2.debian.pool.ntp.org iburst\n+server ntp1.example.org iburst\n+server ntp2.example.org iburst\n driftfile /var/lib/chrony/chrony.drift\n"
	}
	return "--- " + path + "\n+++ " + path + "\n@@ -1 +1 @@\n-10.0.0.1 gateway\n+10.0.0.254 gateway\n"
}
