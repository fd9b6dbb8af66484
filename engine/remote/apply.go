package remote

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// applyPrelude holds the functions every apply script uses. Conventions:
//   - every write is a temporary file in the target's directory, fsync'd
//     (coreutils sync FILE), then renamed over the target;
//   - the state file advances only after its entry succeeded, and is itself
//     replaced by rename;
//   - signals are ignored, by the script and (inherited) by everything it
//     runs: sshd delivers a session signal to the whole process group, and
//     a killed mv or sync between an entry and its state update would make
//     the position lie. Cancellation is a file instead ($CANCEL), created
//     by a second session and checked between entries: the current entry
//     finishes, then the script stops cleanly ("cancelled");
//   - a dropped connection therefore cannot stop the script half way: it
//     runs to the end with its output going nowhere (SIGPIPE ignored).
//
// Output protocol, one line each:
//
//	BUSY <pid>                        another push holds the host lock
//	STALE <reason>                    host no longer matches the plan; nothing changed
//	R <seq> <result> <rc> <cs> <b64>  entry result (cs: centiseconds; b64: output or -)
//	END <position> <hash>
const applyPrelude = `trap '' TERM INT HUP PIPE
cancel=0
# now sets NOW to the uptime in centiseconds, with builtins only: forks
# dominate the cost of a push, so the script avoids them where it can.
now() { read -r up _ < /proc/uptime; c=${up#*.}; NOW="${up%.*}${c}"; }
t0=$(date +%s); now; u0=$NOW
ME="$(id -un):$(id -gn)"
lock="$SD/.lock"
mkdir -p "$SD" || { echo "STALE cannot create $SD"; exit 0; }
if ! mkdir "$lock" 2>/dev/null; then
  op=; [ -r "$lock/pid" ] && read -r op < "$lock/pid"
  if [ -n "$op" ] && kill -0 "$op" 2>/dev/null; then echo "BUSY $op"; exit 0; fi
fi
echo $$ > "$lock/pid"
rm -f "$SD"/.cancel.*
trap 'rm -rf "$lock" "$CANCEL" "$out"' EXIT
BR0=; POS0=0; H0=; HIST=
if [ -f "$ST" ]; then
  while IFS= read -r l || [ -n "$l" ]; do case $l in
    'branch '*) BR0=${l#branch };;
    'position '*) POS0=${l#position };;
    'hash '*) H0=${l#hash };;
    'applied '*) HIST="$HIST$l
";;
  esac; done < "$ST"
fi
POS=$POS0; H=$H0
wstate() {
  t="$SD/.state.$$"
  { printf '# discoterm state v1\nbranch %s\nposition %s\nhash %s\n' "$BR" "$POS" "$H"; printf '%s' "$HIST"; } > "$t" &&
    sync "$t" && mv -f "$t" "$ST" || { rm -f "$t"; return 1; }
}
out="$SD/.out.$$"
emit() { # seq result rc start_cs
  now; d=$(( NOW - $4 ))
  if [ -s "$out" ]; then o=$(tail -c 16384 "$out" | base64 -w0); else o=-; fi
  : > "$out"
  echo "R $1 $2 $3 $d $o"
}
done_entry() { # seq hash start_cs
  now
  HIST="${HIST}applied $1 $2 $(( t0 + (NOW - u0) / 100 )) $(( NOW - $3 )) ok
"
  POS=$1; H=$2
  wstate
}
# put SEQ PATH MODE OWNER GROUP: content on stdin (base64)
put() {
  d=${2%/*}; [ -n "$d" ] || d=/
  if [ -d "$2" ] && [ ! -L "$2" ]; then echo "$2 is a directory" >> "$out"; cat >/dev/null; return 1; fi
  mkdir -p "$d" >> "$out" 2>&1 || { cat >/dev/null; return 1; }
  tmp="$d/.discoterm.$$.$1"
  if base64 -d > "$tmp" 2>> "$out" && chmod "$3" "$tmp" >> "$out" 2>&1 &&
     { [ "$4:$5" = "$ME" ] || chown "$4:$5" "$tmp" >> "$out" 2>&1; } && sync "$tmp" >> "$out" 2>&1 && mv -f "$tmp" "$2" >> "$out" 2>&1; then
    return 0
  fi
  rm -f "$tmp"; return 1
}
fail() { echo "END $POS $H"; exit 0; }
`

// applyScript renders the bundle as one script. The whole program is one
// function definition followed by its call, so a transfer cut short is a
// syntax error that runs nothing, never half a script.
func applyScript(b *Bundle, token string) string {
	var s script
	s.raw("main() {\n")
	s.line("SD=" + quote(strings.TrimRight(b.StateDir, "/")))
	s.line(`CANCEL="$SD/.cancel.` + token + `"`)
	s.line(`ST="$SD/` + StateFileName + `"`)
	s.line("BR=" + quote(b.Branch))
	s.raw(applyPrelude)
	// Fingerprint check: refuse to change anything on a host that moved
	// since the plan.
	s.line(fmt.Sprintf(`if [ "$POS0" != %s ] || [ "$H0" != %s ]; then echo "STALE host is at position $POS0, the plan expected %s"; exit 0; fi`,
		quote(itoa(b.ExpectPosition)), quote(b.ExpectHash), itoa(b.ExpectPosition)))
	s.line(fmt.Sprintf(`if [ -n "$BR0" ] && [ "$BR0" != %s ]; then echo "STALE host is on branch $BR0, the plan expected %s"; exit 0; fi`,
		quote(b.ExpectBranch), b.ExpectBranch))
	for _, p := range b.ExpectPaths {
		q := quote(p.Path)
		if !p.Exists {
			s.line(fmt.Sprintf(`if [ -e %s ] || [ -L %s ]; then echo "STALE %s appeared since the plan"; exit 0; fi`, q, q, strings.ReplaceAll(p.Path, `"`, "")))
			continue
		}
		want := fmt.Sprintf("%o %s %s", p.Mode, p.Owner, p.Group)
		s.line(fmt.Sprintf(`if [ "$(stat -c '%%a %%U %%G' -- %s 2>/dev/null)" != %s ]; then echo "STALE %s changed (mode or owner) since the plan"; exit 0; fi`,
			q, quote(want), strings.ReplaceAll(p.Path, `"`, "")))
		if p.Type == "file" {
			s.line(fmt.Sprintf(`h=$(sha256sum < %s 2>/dev/null); if [ "${h%%%% *}" != %s ]; then echo "STALE %s changed since the plan"; exit 0; fi`,
				q, quote(p.Hash), strings.ReplaceAll(p.Path, `"`, "")))
		}
	}
	if b.Branch != b.ExpectBranch || (b.ExpectBranch == "" && b.Branch != "") {
		// Recording the branch (first contact, or migrate) is itself a state change.
		s.line("wstate || { echo 'STALE cannot write the state file'; exit 0; }")
	}
	for _, e := range b.Entries {
		seq := itoa(e.Seq)
		s.line(`[ -e "$CANCEL" ] && { echo "R ` + seq + ` cancelled 0 0 -"; fail; }`)
		s.line("now; s=$NOW")
		switch e.Kind {
		case "file", "template":
			owner, group := e.Owner, e.Group
			if owner == "" {
				owner = "root"
			}
			if group == "" {
				group = "root"
			}
			s.line(fmt.Sprintf("if put %s %s %s %s %s <<'DISCOTERM_EOF'", seq, quote(e.Path),
				quote(fmt.Sprintf("%o", e.Mode)), quote(owner), quote(group)))
			enc := base64.StdEncoding.EncodeToString(e.Content)
			for len(enc) > 76 {
				s.raw(enc[:76] + "\n")
				enc = enc[76:]
			}
			s.raw(enc + "\nDISCOTERM_EOF\n")
			s.line(fmt.Sprintf(`then done_entry %s %s "$s" || { echo "R %s failed 1 0 -"; fail; }; emit %s ok 0 "$s"`, seq, e.Hash, seq, seq))
			s.line(fmt.Sprintf(`else emit %s failed 1 "$s"; fail; fi`, seq))
		case "exec":
			if e.Creates != "" {
				s.line(fmt.Sprintf(`if [ -e %s ] || [ -L %s ]; then done_entry %s %s "$s" || fail; echo "%s exists" > "$out"; emit %s skipped 0 "$s"; else`,
					quote(e.Creates), quote(e.Creates), seq, e.Hash, strings.ReplaceAll(e.Creates, `"`, ""), seq))
			} else {
				s.line("if false; then :; else")
			}
			if e.Unless != "" {
				s.line(fmt.Sprintf(`if ( eval %s ) </dev/null >/dev/null 2>&1; then done_entry %s %s "$s" || fail; echo "unless-guard succeeded" > "$out"; emit %s skipped 0 "$s"; else`,
					quote(e.Unless), seq, e.Hash, seq))
			} else {
				s.line("if false; then :; else")
			}
			s.line(fmt.Sprintf(`( cd / && eval %s ) </dev/null > "$out" 2>&1; rc=$?`, quote(e.Command)))
			s.line(fmt.Sprintf(`if [ $rc -eq 0 ]; then done_entry %s %s "$s" || { echo "R %s failed 1 0 -"; fail; }; emit %s ok 0 "$s"; else emit %s failed $rc "$s"; fail; fi`,
				seq, e.Hash, seq, seq, seq))
			s.line("fi; fi")
		case "reboot":
			if !b.AllowReboot {
				s.line(fmt.Sprintf(`echo "R %s reboot-pending 0 0 -"; fail`, seq))
				continue
			}
			cmd := b.RebootCommand
			if cmd == "" {
				cmd = "shutdown -r now"
			}
			// The entry counts as applied once the reboot is ordered: after
			// the host comes back, replay continues past it.
			s.line(fmt.Sprintf(`done_entry %s %s "$s" || { echo "R %s failed 1 0 -"; fail; }`, seq, e.Hash, seq))
			s.line(fmt.Sprintf(`( sleep 1; eval %s ) </dev/null >/dev/null 2>&1 &`, quote(cmd)))
			s.line(fmt.Sprintf(`emit %s rebooting 0 "$s"; fail`, seq))
		default:
			s.line(fmt.Sprintf(`echo "R %s failed 2 0 -"; fail`, seq))
		}
	}
	s.raw("echo \"END $POS $H\"\n}\nmain\n")
	return s.String()
}

// Apply uploads the bundle as one script and applies it in one remote step,
// calling report for each entry as its result line arrives.
func (st *Steps) Apply(ctx context.Context, t Target, b *Bundle, report func(EntryReport)) (*ApplyResult, error) {
	token := randomToken()
	text := applyScript(b, token)
	pr, pw := io.Pipe()
	res := &ApplyResult{BytesSent: int64(len(text)), Position: b.ExpectPosition, Hash: b.ExpectHash}
	parsed := make(chan error, 1)
	sawEnd := false
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 4<<20)
		var perr error
		for sc.Scan() {
			l := sc.Text()
			switch {
			case strings.HasPrefix(l, "R "):
				r, err := parseResultLine(l)
				if err != nil {
					perr = err
					continue
				}
				res.Entries = append(res.Entries, r)
				if report != nil {
					report(r)
				}
			case strings.HasPrefix(l, "STALE "):
				res.Stale = strings.TrimPrefix(l, "STALE ")
				sawEnd = true
			case strings.HasPrefix(l, "BUSY "):
				perr = fmt.Errorf("another push is running on %s (pid %s); try again when it ends", t.display(), strings.TrimPrefix(l, "BUSY "))
				sawEnd = true
			case strings.HasPrefix(l, "END "):
				f := strings.Fields(l)
				if len(f) >= 2 {
					res.Position, _ = strconv.ParseUint(f[1], 10, 64)
				}
				if len(f) >= 3 {
					res.Hash = f[2]
				} else {
					res.Hash = ""
				}
				sawEnd = true
			}
		}
		_, _ = io.Copy(io.Discard, pr)
		parsed <- perr
	}()
	// The step is not cut when ctx ends: a second session asks the script
	// to stop after its current entry, and we wait for it to say where it
	// stopped. Only if it does not within CancelWait is the session closed.
	runCtx, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	finished := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
			defer cancel()
			touch := "mkdir -p " + quote(b.StateDir) + " && : > " + quote(strings.TrimRight(b.StateDir, "/")+"/.cancel."+token)
			_, _ = st.R.Run(cctx, t, remoteShell, strings.NewReader(touch+"\n"), io.Discard, io.Discard)
			select {
			case <-time.After(st.cancelWait()):
				abandon()
			case <-finished:
			}
		case <-finished:
		}
	}()
	var errb strings.Builder
	code, err := st.R.Run(runCtx, t, remoteShell, strings.NewReader(text), pw, &errb)
	close(finished)
	pw.Close()
	perr := <-parsed
	if perr != nil {
		return res, perr
	}
	if err != nil {
		if ctx.Err() != nil {
			return res, fmt.Errorf("%w (the host did not confirm where it stopped)", ctx.Err())
		}
		return res, err
	}
	if code != 0 || !sawEnd {
		return res, fmt.Errorf("apply on %s ended without a result (exit %d): %s", t.display(), code, trunc(strings.TrimSpace(errb.String()), 300))
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, nil
}

func (st *Steps) cancelWait() time.Duration {
	if st.CancelWait > 0 {
		return st.CancelWait
	}
	return 5 * time.Minute
}

func randomToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func parseResultLine(l string) (EntryReport, error) {
	f := strings.Fields(l)
	if len(f) != 6 {
		return EntryReport{}, fmt.Errorf("malformed result line %q", trunc(l, 80))
	}
	seq, err1 := strconv.ParseUint(f[1], 10, 64)
	rc, err2 := strconv.Atoi(f[3])
	cs, err3 := strconv.ParseInt(f[4], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return EntryReport{}, fmt.Errorf("malformed result line %q", trunc(l, 80))
	}
	r := EntryReport{Seq: seq, Result: f[2], ExitCode: rc, Duration: time.Duration(cs) * 10 * time.Millisecond}
	if f[5] != "-" {
		if out, err := base64.StdEncoding.DecodeString(f[5]); err == nil {
			r.Output = string(out)
		}
	}
	return r, nil
}
