# shellcheck shell=sh
# apply.sh: a push on one host, in one remote step. Conventions:
#   - every write is a temporary file in the target's directory, fsync'd
#     (coreutils sync FILE), then renamed over the target;
#   - the state file advances only after its entry succeeded (state.sh);
#   - signals are ignored, by the program and (inherited) by everything it
#     runs: sshd delivers a session signal to the whole process group, and
#     a killed mv or sync between an entry and its state update would make
#     the position lie. Cancellation is a file instead ($CANCEL, see
#     cancel.sh), checked between entries: the current entry finishes,
#     then the program stops cleanly;
#   - a dropped connection therefore cannot stop it half way: it runs to
#     the end with its output going nowhere (SIGPIPE ignored).
#
# Replies, one line each (reply.go parses them):
#   BUSY PID                      another push holds the host lock
#   STALE CODE [ARG]              the host no longer matches the plan; nothing changed
#   M SEQ UCS SCS RCHAR WCHAR RBYTES WBYTES PEAK
#                                 an exec entry's resources, before its R line
#                                 (usage.sh; "-" where procfs has no io file,
#                                 PEAK "-" where no cgroup v2 measures it)
#   R SEQ RESULT RC CS OUTPUT     an entry's result (CS: centiseconds; OUTPUT: base64 or -)
#   ARMED SECONDS                 a revert is armed (push --must-come-back, comeback.sh)
#   END POSITION HASH

# begin STATEDIR TOKEN BRANCH: take the host lock and read the state.
begin() {
  trap '' TERM INT HUP PIPE
  SD=$1; CANCEL="$SD/.cancel.$2"; ST="$SD/state"; BR=$3
  t0=$(date +%s); now; u0=$NOW
  # (read reads a byte per system call: stop at Gid:.)
  uid=; gid=
  while read -r k a _; do case $k in Uid:) uid=$a;; Gid:) gid=$a; break;; esac; done < /proc/self/status
  # A file root creates is root:root already: no chown process then.
  ROOTCHOWN=x; [ "$uid:$gid" = 0:0 ] && ROOTCHOWN=
  [ -d "$SD" ] || mkdir -p -- "$SD" || { echo "STALE statedir"; exit 0; }
  lockhost
  KR=
  pending
  # Command output stays on the host only while the push runs, and only
  # root may read it (a command may print secrets).
  out="$SD/.out.$$"; rm -f -- "$out"; umask 077; : > "$out"; umask 022
  for c in "$SD"/.cancel.*; do [ -e "$c" ] && rm -f -- "$SD"/.cancel.*; break; done
  TMPS=; OKS=
  trap 'unrun; [ -z "$KR" ] || rm -rf -- "$KR"; rm -f -- "$LOCK" "$CANCEL" "$out" "$SD/.state.$$"' EXIT
  readstate
}

# expect POSITION HASH BRANCH: refuse, changing nothing, a host that moved
# since the plan.
expect() {
  if [ "$POS0" != "$1" ] || [ "$H0" != "$2" ]; then echo "STALE position $POS0"; exit 0; fi
  if [ -n "$BR0" ] && [ "$BR0" != "$3" ]; then printf 'STALE branch %s\n' "$BR0"; exit 0; fi
}

# absent INDEX PATH, present INDEX PATH: a path the plan saw absent
# (present) still is.
absent() { if [ -e "$2" ] || [ -L "$2" ]; then echo "STALE appeared $1"; exit 0; fi; }
present() { if ! [ -e "$2" ] && ! [ -L "$2" ]; then echo "STALE removed $1"; exit 0; fi; }

# samemeta WANT PATH...: one stat over every present path, compared whole.
samemeta() {
  w=$1; shift
  if [ "$(stat -c '%a %U %G' -- "$@" 2> /dev/null)" != "$w" ]; then echo "STALE meta"; exit 0; fi
}

# samehash WANT PATH...: one sha256sum over every present file, compared
# whole (only the hashes: odd names are escaped with a backslash).
samehash() {
  w=$1; shift
  got=$(sha256sum -- "$@" 2> /dev/null | while IFS= read -r l; do l=${l#\\}; printf '%.64s ' "$l"; done)
  if [ "$got" != "$w" ]; then echo "STALE content"; exit 0; fi
}

# setbranch: record the branch (first contact, or migrate) before any entry.
setbranch() { wstate || { echo "STALE statewrite"; exit 0; }; }

# entry SEQ: stop if cancelled; start the entry's clock (s).
entry() {
  if [ -e "$CANCEL" ]; then echo "R $1 cancelled 0 0 -"; fail; fi
  now; s=$NOW
}

# emit SEQ RESULT RC START_CS: an entry's result line with the tail of its output.
emit() {
  now; d=$((NOW - $4))
  if [ -s "$out" ]; then o=$(tail -c 16384 -- "$out" | base64 -w0); else o=-; fi
  : > "$out"
  echo "R $1 $2 $3 $d $o"
}

# fail, finish: the end (a push that must come back arms its revert first).
fail() { arm; echo "END $POS $H"; exit 0; }
finish() { arm; echo "END $POS $H"; }

# A run of file entries is staged whole (temporary files beside their
# targets, one fsync for all), then renamed into place in order, then the
# state records the run: a crash in between leaves the position behind
# files already in place, and replaying file entries is idempotent.

# run: start a run of file entries.
run() { TMPS=; OKS=; }

# prep SEQ PATH UMASK CHMOD OWNER:GROUP ENCODING DATA: a temporary file
# for one entry, with DATA as text (written by printf, no process) or
# base64. CHMOD is "" when the umask gives the mode.
prep() {
  d=${2%/*}; [ -n "$d" ] || d=/
  if [ -d "$2" ] && [ ! -L "$2" ]; then printf '%s is a directory\n' "$2" >> "$out"; abort "$1"; fi
  if [ ! -d "$d" ]; then mkdir -p -- "$d" >> "$out" 2>&1 || abort "$1"; fi
  rootdir "$d" || abort "$1"
  t="$d/.discoterm.$$.$1"; TMPS="$TMPS$t$NL"
  # Created, never opened through what was there (set -C: O_EXCL, so a
  # planted symlink or file makes this fail instead of being written).
  rm -f -- "$t" 2> /dev/null
  umask "$3"; set -C
  if [ "$6" = text ]; then printf '%s' "$7" > "$t"; else printf '%s' "$7" | base64 -d > "$t" 2>> "$out"; fi
  r=$?
  set +C; umask 022
  [ $r -eq 0 ] || abort "$1"
  # Owner and group first: chown clears setuid and setgid bits, so the
  # mode comes after.
  if [ "$5" != root:root ] || [ -n "$ROOTCHOWN" ]; then chown -h -- "$5" "$t" >> "$out" 2>&1 || abort "$1"; fi
  if [ -n "$4" ]; then chmod -- "$4" "$t" >> "$out" 2>&1 || abort "$1"; fi
}

# rootdir DIR: refuse (and say why) a directory that a user other than root
# could change under us: owned by someone else, or writable by group or
# others — it or any directory above it (a sticky root-owned directory
# above it, like /tmp, lets nobody rename what is in it). Such a user could
# swap the temporary file for a symlink between our steps. Checked once
# per directory and push; an entry staged with --allow-user-dir goes
# through ufile instead.
rootdir() {
  case $DIROK in *"$NL$1$NL"*) return 0 ;; esac
  p=$1; l=
  while :; do l="$l$p$NL"; [ "$p" = / ] && break; p=${p%/*}; [ -n "$p" ] || p=/; done
  bad=$(set -f; IFS=$NL
    # shellcheck disable=SC2086 # one path per line, on purpose
    stat -c '%u %a %n' -- $l 2>&1 | { IFS=' '; first=1; while read -r u a n; do
      case $a in *[!0-7]*) printf '%s\n' "$n"; exit;; esac
      w=$((0$a & 022)); k=$((0$a & 01000))
      if [ "$u" != 0 ] || { [ $w -ne 0 ] && { [ -n "$first" ] || [ $k -eq 0 ]; }; }; then printf '%s\n' "$n"; exit; fi
      first=
    done; })
  if [ -n "$bad" ]; then
    printf '%s can be changed by a user other than root (owner or group/other write); refusing to write there (stage the entry with --allow-user-dir if that is intended)\n' "$bad" >> "$out"
    return 1
  fi
  DIROK="$DIROK$NL$1$NL"
}

# each CMD...: run CMD with every staged file as arguments (names may have
# spaces or glob characters: split on newlines only, no globbing).
each() {
  [ -n "$TMPS" ] || return 0
  set -f; oifs=$IFS; IFS=$NL
  # shellcheck disable=SC2086 # split on newlines, on purpose
  "$@" $TMPS; r=$?
  IFS=$oifs; set +f
  return $r
}

# settle FIRST_SEQ: fsync every staged file of the run, in one process.
settle() { each sync -- >> "$out" 2>&1 || abort "$1"; }

# place SEQ HASH PATH: rename one staged file into place.
place() {
  d=${3%/*}; [ -n "$d" ] || d=/
  # -T: a directory (or a symlink to one) planted at the target is never
  # moved into; a symlink at the target is replaced, not written through.
  mv -fT -- "$d/.discoterm.$$.$1" "$3" >> "$out" 2>&1 || runfail "$1"
  applied "$1" "$2" "$s"; HIST="$HIST$A"; POS=$1; H=$2; OKS="$OKS $1"
}

# replace SEQ PATH: rename the staged file of an entry the host applied
# already (a drift repair) into place; the position and history stay.
replace() {
  d=${2%/*}; [ -n "$d" ] || d=/
  mv -fT -- "$d/.discoterm.$$.$1" "$2" >> "$out" 2>&1 || runfail "$1"
  OKS="$OKS $1"
}

# ufile SEQ HASH PATH UMASK CHMOD OWNER:GROUP ENCODING DATA REPAIR: a file
# entry staged with --allow-user-dir, as a run of its own. Its directory
# may belong to a user who can rename, replace or plant anything in it at
# any time, so no step acts on a name there that resolves through
# something that user could swap: the shell moves into the directory by
# its real path (cd -P, then the kernel's name of where it landed must be
# that path: a symlink swapped into the path is refused), makes a private
# directory in it (mktemp -d: a new, unguessable name, root's, 0700) and
# moves into that too, checked the same way. Nobody else can plant or
# swap anything inside the private directory, and nobody can move it to
# another parent (that needs write permission on it), so the temporary
# file is written, chowned, chmodded and fsync'd there by plain names, and
# renamed to ../NAME: the target's own name, replaced, never followed
# (mv -T). Whatever the user swaps in makes the entry fail, saying why.
ufile() {
  d=${3%/*}; [ -n "$d" ] || d=/; n=${3##*/}; pd=
  if [ ! -d "$d" ]; then mkdir -p -- "$d" >> "$out" 2>&1 || abort "$1"; fi
  if ! cd -P -- "$d" 2> /dev/null || [ "$PWD" != "$d" ]; then
    printf '%s is not where its path leads (a symlink, or it was swapped); refusing to write there\n' "$d" >> "$out"; uleave "$1"
  fi
  if [ -d "$n" ] && [ ! -L "$n" ]; then printf '%s is a directory\n' "$3" >> "$out"; uleave "$1"; fi
  pd=$(umask 077; mktemp -d -- ./.discoterm.XXXXXXXXXX 2>> "$out") || uleave "$1"
  pd=${pd#./}
  if ! cd -P -- "./$pd" 2> /dev/null || [ "$PWD" != "${d%/}/$pd" ] || [ ! -O . ]; then
    printf '%s/%s, the private directory for the write, was swapped (a user can change %s); refusing to write there\n' "${d%/}" "$pd" "$d" >> "$out"
    uleave "$1"
  fi
  umask "$4"; set -C
  if [ "$7" = text ]; then printf '%s' "$8" > ./f; else printf '%s' "$8" | base64 -d > ./f 2>> "$out"; fi
  r=$?
  set +C; umask 022
  [ $r -eq 0 ] || uleave "$1"
  if [ "$6" != root:root ] || [ -n "$ROOTCHOWN" ]; then chown -h -- "$6" ./f >> "$out" 2>&1 || uleave "$1"; fi
  if [ -n "$5" ]; then chmod -- "$5" ./f >> "$out" 2>&1 || uleave "$1"; fi
  sync -- ./f >> "$out" 2>&1 || uleave "$1"
  mv -fT -- ./f "../$n" >> "$out" 2>&1 || uleave "$1"
  cd .. && rmdir -- "$pd" 2> /dev/null; cd /
  if [ "$9" != 1 ]; then applied "$1" "$2" "$s"; HIST="$HIST$A"; POS=$1; H=$2; fi
  OKS="$OKS $1"
}

# uleave SEQ: ufile failed at SEQ: remove what it made (from inside its
# private directory, by plain names only), then fail the entry.
uleave() {
  if [ -n "$pd" ] && [ "$PWD" = "${d%/}/$pd" ]; then rm -f ./f; cd .. && rmdir -- "$pd" 2> /dev/null; fi
  cd /; abort "$1"
}

# ran FIRST_SEQ: the run is in place: record it, report each entry.
ran() {
  TMPS=
  wstate || { echo "R $1 failed 1 0 -"; fail; }
  for q in $OKS; do emit "$q" ok 0 "$s"; done
}

# unrun: remove what a failed run left staged.
unrun() { each rm -f --; TMPS=; }
# abort SEQ: staging failed at SEQ: nothing of the run was placed.
abort() { emit "$1" failed 1 "$s"; unrun; fail; }
# runfail SEQ: placing failed at SEQ: record what was placed, report.
runfail() { wstate; for q in $OKS; do emit "$q" ok 0 "$s"; done; emit "$1" failed 1 "$s"; unrun; fail; }

# xexec SEQ HASH CREATES UNLESS COMMAND NAME VALUE ...: an exec entry,
# skipped when CREATES exists or UNLESS exits 0; NAME VALUE pairs are the
# host's variables, exported to guard and command (runenv).
xexec() {
  q=$1; hh=$2; cr=$3; un=$4; shift 4
  if [ -n "$cr" ] && { [ -e "$cr" ] || [ -L "$cr" ]; }; then
    done_entry "$q" "$hh" "$s" || { echo "R $q failed 1 0 -"; fail; }
    printf '%s exists\n' "$cr" > "$out"; emit "$q" skipped 0 "$s"; return 0
  fi
  if [ -n "$un" ] && ( shift; runenv "$@" "$un" ) < /dev/null > /dev/null 2>&1; then
    done_entry "$q" "$hh" "$s" || { echo "R $q failed 1 0 -"; fail; }
    echo "unless-guard succeeded" > "$out"; emit "$q" skipped 0 "$s"; return 0
  fi
  usage0 "$q"
  ( ucgjoin; c=$1; shift; runenv "$@" "$c" ) < /dev/null > "$out" 2>&1
  rc=$?
  usage1 "$q"
  if [ $rc -ne 0 ]; then emit "$q" failed $rc "$s"; fail; fi
  done_entry "$q" "$hh" "$s" || { echo "R $q failed 1 0 -"; fail; }
  emit "$q" ok 0 "$s"
}

# xremove SEQ HASH PATH: delete a file, symlink or empty directory; a path
# already absent is done (replay is idempotent). The state records it
# after the deletion, like every entry.
xremove() {
  if [ -d "$3" ] && [ ! -L "$3" ]; then
    if ! rmdir -- "$3" > /dev/null 2>&1; then
      printf '%s is a directory that is not empty; remove what is in it first (one remove entry per file)\n' "$3" > "$out"
      emit "$1" failed 1 "$s"; fail
    fi
  elif [ -e "$3" ] || [ -L "$3" ]; then
    rm -f -- "$3" > "$out" 2>&1 || { emit "$1" failed 1 "$s"; fail; }
  else
    printf '%s is absent\n' "$3" > "$out"
  fi
  done_entry "$1" "$2" "$s" || { echo "R $1 failed 1 0 -"; fail; }
  emit "$1" ok 0 "$s"
}

# rremove SEQ PATH: a drift repair of a remove entry the host applied
# already: delete what came back; the position and history stay.
rremove() {
  if [ -d "$2" ] && [ ! -L "$2" ]; then
    rmdir -- "$2" > "$out" 2>&1 || { emit "$1" failed 1 "$s"; fail; }
  elif [ -e "$2" ] || [ -L "$2" ]; then
    rm -f -- "$2" > "$out" 2>&1 || { emit "$1" failed 1 "$s"; fail; }
  fi
  emit "$1" ok 0 "$s"
}

# xreboot SEQ HASH ALLOWED COMMAND: a reboot entry. It counts as applied
# once the reboot is ordered: after the host comes back, replay continues
# past it. Not allowed: replay stops before it.
xreboot() {
  if [ "$3" != 1 ]; then echo "R $1 reboot-pending 0 0 -"; fail; fi
  done_entry "$1" "$2" "$s" || { echo "R $1 failed 1 0 -"; fail; }
  ( sleep 1; eval "$4" ) < /dev/null > /dev/null 2>&1 &
  emit "$1" rebooting 0 "$s"; fail
}
