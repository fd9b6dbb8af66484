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
	"unicode/utf8"
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
# Processes dominate the cost of a push (a fork and exec is ~1.5 ms on a
# small host), so everything that can be a shell builtin is one: time from
# /proc, the lock by noclobber, file contents by a single base64 each.
now() { read -r up _ < /proc/uptime; c=${up#*.}; NOW="${up%.*}${c}"; }
# (The shell's read builtin reads a byte per system call: keep files it
# reads short, e.g. stop at Gid: in /proc/self/status.)
t0=$(date +%s); now; u0=$NOW
uid=; gid=; while read -r k a _; do case $k in Uid:) uid=$a;; Gid:) gid=$a; break;; esac; done < /proc/self/status
ROOTCHOWN=x; [ "$uid:$gid" = 0:0 ] && ROOTCHOWN=
[ -d "$SD" ] || mkdir -p "$SD" || { echo "STALE cannot create $SD"; exit 0; }
lock="$SD/.lock"
takelock() { set -C; { echo $$ > "$lock"; } 2>/dev/null; r=$?; set +C; return $r; }
if ! takelock; then
  op=; read -r op < "$lock"
  if [ -n "$op" ] && kill -0 "$op" 2>/dev/null; then echo "BUSY $op"; exit 0; fi
  rm -f "$lock"; takelock || { echo "BUSY ?"; exit 0; }
fi
out="$SD/.out.$$"
for c in "$SD"/.cancel.*; do [ -e "$c" ] && rm -f "$SD"/.cancel.*; break; done
TMPS=
trap 'unrun; rm -f "$lock" "$CANCEL" "$out" "$SD/.state.$$"' EXIT
BR0=; POS0=0; H0=; HIST=
NL='
'
if [ -f "$ST" ]; then
  # One cat, not a read per byte: the applied history grows with the journal.
  rest=$(cat "$ST"; echo x); rest=${rest%x}
  for i in 1 2 3 4; do
    l=${rest%%"$NL"*}; rest=${rest#*"$NL"}
    case $l in 'branch '*) BR0=${l#branch };; 'position '*) POS0=${l#position };; 'hash '*) H0=${l#hash };; esac
  done
  case $rest in 'applied '*) HIST=$rest;; esac
fi
POS=$POS0; H=$H0
# applied SEQ HASH START_CS: the history line of an entry that succeeded.
applied() { now; A="applied $1 $2 $(( t0 + (NOW - u0) / 100 )) $(( NOW - $3 )) ok$NL"; }
# wstate writes the current state (POS, H, HIST): temp, fsync, rename.
wstate() {
  { printf '# discoterm state v1\nbranch %s\nposition %s\nhash %s\n' "$BR" "$POS" "$H"; printf '%s' "$HIST"; } > "$SD/.state.$$" &&
    sync "$SD/.state.$$" && mv -f "$SD/.state.$$" "$ST"
}
# done_entry SEQ HASH START_CS records one entry (exec, reboot) as applied.
done_entry() { applied "$@"; OH=$HIST OP=$POS OHASH=$H; HIST="$HIST$A" POS=$1 H=$2; wstate || { HIST=$OH POS=$OP H=$OHASH; return 1; }; }
emit() { # seq result rc start_cs
  now; d=$(( NOW - $4 ))
  if [ -s "$out" ]; then o=$(tail -c 16384 "$out" | base64 -w0); else o=-; fi
  : > "$out"
  echo "R $1 $2 $3 $d $o"
}
# A run of file entries is staged whole (temporary files beside their
# targets, one fsync for all), then renamed into place in order, then the
# state records the run: a crash in between leaves the position behind
# files already in place, and replaying file entries is idempotent. Exec
# entries are never inside a run.
# prep SEQ PATH UMASK CHMOD CHOWN [CONTENT]: a temporary file for one entry,
# with CONTENT (text, written by the shell) or base64 on stdin.
prep() {
  d=${2%/*}; [ -n "$d" ] || d=/
  if [ -d "$2" ] && [ ! -L "$2" ]; then echo "$2 is a directory" >> "$out"; return 1; fi
  [ -d "$d" ] || mkdir -p "$d" >> "$out" 2>&1 || return 1
  t="$d/.discoterm.$$.$1"; TMPS="$TMPS$t$NL"
  umask "$3"
  if [ $# -ge 6 ]; then printf '%s' "$6" > "$t"; else base64 -d > "$t" 2>> "$out"; fi; r=$?
  umask 022
  [ $r -eq 0 ] && { [ -z "$4" ] || chmod "$4" "$t" >> "$out" 2>&1; } &&
    { [ -z "$5" ] || chown "$5" "$t" >> "$out" 2>&1; }
}
# each CMD…: run CMD with every staged file as arguments (names may have
# spaces or glob characters: split on newlines only, no globbing).
each() { [ -n "$TMPS" ] || return 0; set -f; oifs=$IFS; IFS=$NL; "$@" $TMPS; r=$?; IFS=$oifs; set +f; return $r; }
# settle: fsync every staged file of the run, in one process.
settle() { each sync >> "$out" 2>&1; }
# place SEQ HASH PATH START_CS: rename one staged file into place.
place() {
  d=${3%/*}; [ -n "$d" ] || d=/
  mv -f "$d/.discoterm.$$.$1" "$3" >> "$out" 2>&1 || return 1
  applied "$1" "$2" "$4"; HIST="$HIST$A" POS=$1 H=$2 OKS="$OKS $1"
}
# unrun: remove what a failed run left staged.
unrun() { each rm -f; TMPS=; }
# runfail SEQ START_CS: a run failed at SEQ: record what was placed, report.
runfail() { wstate; for q in $OKS; do emit "$q" ok 0 "$2"; done; emit "$1" failed 1 "$2"; unrun; fail; }
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
	stalePaths(&s, b.ExpectPaths)
	if b.Branch != b.ExpectBranch || (b.ExpectBranch == "" && b.Branch != "") {
		// Recording the branch (first contact, or migrate) is itself a state change.
		s.line("wstate || { echo 'STALE cannot write the state file'; exit 0; }")
	}
	for i := 0; i < len(b.Entries); {
		e := b.Entries[i]
		seq := itoa(e.Seq)
		s.line(`[ -e "$CANCEL" ] && { echo "R ` + seq + ` cancelled 0 0 -"; fail; }`)
		s.line("now; s=$NOW")
		switch e.Kind {
		case "file", "template":
			j := i
			for j < len(b.Entries) && (b.Entries[j].Kind == "file" || b.Entries[j].Kind == "template") {
				j++
			}
			fileRun(&s, b.Entries[i:j])
			i = j
			continue
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
				break
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
		i++
	}
	s.raw("echo \"END $POS $H\"\n}\nmain\n")
	return s.String()
}

// fileRun installs a run of consecutive file entries: each staged in a
// temporary file beside its target with its mode (by umask where it can),
// owner and group; one fsync for all; renamed in order; then one state
// write records them. Text content is written by the shell's printf (no
// process); binary content is decoded by base64.
func fileRun(s *script, run []BundleEntry) {
	s.line("TMPS= OKS=")
	for _, e := range run {
		seq := itoa(e.Seq)
		owner, group := e.Owner, e.Group
		if owner == "" {
			owner = "root"
		}
		if group == "" {
			group = "root"
		}
		mode := e.Mode & 0o7777
		umask, chmod := fmt.Sprintf("%03o", 0o777&^mode), ""
		if mode&0o7111 != 0 { // execute or special bits: a umask cannot give them
			umask, chmod = "022", fmt.Sprintf("%o", mode)
		}
		// A file root creates is root:root already; the host decides (by
		// uid, without a process), so a non-root login works too.
		chown := quote(owner + ":" + group)
		if owner == "root" && group == "root" {
			chown = `"${ROOTCHOWN:+root:root}"`
		}
		head := fmt.Sprintf("prep %s %s %s %s %s", seq, quote(e.Path), umask, quote(chmod), chown)
		onFail := fmt.Sprintf(` || { emit %s failed 1 "$s"; unrun; fail; }`, seq)
		if shellText(e.Content) {
			s.line(head + " " + quote(string(e.Content)) + onFail)
			continue
		}
		s.line(head + " <<'DISCOTERM_EOF'" + onFail)
		enc := base64.StdEncoding.EncodeToString(e.Content)
		for len(enc) > 76 {
			s.raw(enc[:76] + "\n")
			enc = enc[76:]
		}
		s.raw(enc + "\nDISCOTERM_EOF\n")
	}
	first := itoa(run[0].Seq)
	s.line(fmt.Sprintf(`settle || { emit %s failed 1 "$s"; unrun; fail; }`, first))
	for _, e := range run {
		s.line(fmt.Sprintf(`place %s %s %s "$s" || runfail %s "$s"`, itoa(e.Seq), e.Hash, quote(e.Path), itoa(e.Seq)))
	}
	s.line(`TMPS=; wstate || { echo "R ` + first + ` failed 1 0 -"; fail; }`)
	s.line(`for q in $OKS; do emit "$q" ok 0 "$s"; done`)
}

// shellText reports whether content can travel as a shell word: UTF-8
// text without NUL or other control characters than tab, newline and CR,
// and not huge (a shell keeps the whole script in memory).
func shellText(b []byte) bool {
	if len(b) > 1<<20 || !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return true
}

// stalePaths refuses, with nothing changed, a host whose paths moved since
// the plan: existence by builtins, then one stat and one sha256sum over
// every path that existed, compared as a whole (the slow per-path look
// happens only to name the culprit).
func stalePaths(s *script, paths []PathInfo) {
	var present, files []PathInfo
	for _, p := range paths {
		q := quote(p.Path)
		if !p.Exists {
			s.line(fmt.Sprintf(`if [ -e %s ] || [ -L %s ]; then echo "STALE %s appeared since the plan"; exit 0; fi`, q, q, strings.ReplaceAll(p.Path, `"`, "")))
			continue
		}
		s.line(fmt.Sprintf(`if ! [ -e %s ] && ! [ -L %s ]; then echo "STALE %s was removed since the plan"; exit 0; fi`, q, q, strings.ReplaceAll(p.Path, `"`, "")))
		present = append(present, p)
		if p.Type == "file" {
			files = append(files, p)
		}
	}
	if len(present) > 0 {
		var args, want []string
		for _, p := range present {
			args = append(args, quote(p.Path))
			want = append(want, fmt.Sprintf("%o %s %s", p.Mode, p.Owner, p.Group))
		}
		s.line(fmt.Sprintf(`if [ "$(stat -c '%%a %%U %%G' -- %s 2>/dev/null)" != %s ]; then echo "STALE a path the plan read changed mode or owner since"; exit 0; fi`,
			strings.Join(args, " "), quote(strings.Join(want, "\n"))))
	}
	if len(files) > 0 {
		var args, want []string
		for _, p := range files {
			args = append(args, quote(p.Path))
			want = append(want, p.Hash)
		}
		// sha256sum escapes odd names with a leading backslash; only the
		// hashes are compared.
		s.line(fmt.Sprintf(`got=$(sha256sum -- %s 2>/dev/null | while IFS= read -r l; do l=${l#\\}; printf '%%.64s ' "$l"; done)`, strings.Join(args, " ")))
		s.line(fmt.Sprintf(`if [ "$got" != %s ]; then echo "STALE a file the plan read changed since"; exit 0; fi`, quote(strings.Join(want, " ")+" ")))
	}
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
