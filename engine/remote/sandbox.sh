# shellcheck shell=sh
# sandbox.sh: the plan's copy-on-write sandbox of a host. It runs after the
# probe, in the same session, whose command is `exec unshare --mount --net
# --uts --ipc --pid --fork --propagation private --kill-child /bin/sh -s`:
# this whole program already runs in private namespaces, so its mounts are
# invisible to the host, it has only a loopback device (down), and every
# process it starts dies with it (it is PID 1 of its namespace). When that
# unshare is refused, the session falls back to a plain shell with
# DT_NOSB set to unshare's status: the probe runs, the sandbox does not.
# Nothing here writes to a host filesystem: the scratch space is a tmpfs
# mounted over an existing directory (/proc/driver, see sb_one), in this
# namespace only.
#
# Layout on the scratch tmpfs $T (capped at SB_CAP bytes, the upper
# layers' total):
#   u/K/J, w/K/J  upper and work dir of layer K for overlay J (J=0 is /,
#                 then one per writable local mount of the host)
#   r/K           layer K's merged root: overlay J of layer K has lower
#                 dirs u/K-1/J:…:u/0/J:<host mount>, so u/K/J holds exactly
#                 what the step run in layer K changed. Layer 0 holds the
#                 file entries before the first command; each command has
#                 a layer of its own, with a fresh proc (of this PID
#                 namespace, read-only) and a read-only sysfs of this
#                 network namespace; r/K-1 is what command K found.
# A command's /dev is an overlay of the host's, mounted nodev (no device
# node opens through it: no disk, no kmsg, no mem), with null zero full
# random urandom tty bound over it from the host (those open): the
# symlinks (fd, stdin, …) come with it, and no process copies nodes.
# $T/m is a second view of $T, on which setup makes these directories.
# $T/dev/.dt holds staged content; $T/out is a tmpfs of SB_OUT bytes for
# an entry's output. Every layer is mounted at the start,
# by one mount process: processes are what a sandbox costs.
#
# Replies (see sandbox_parse.go): N CODE B64REASON (cannot sandbox), U RC
# (unshare refused: the reason is on stderr), M B64MOUNTPOINT (a mount
# left out: its name needs escaping), G SEQ c|u RC|r|-, X SEQ RC CAP,
# B SEQ LENGTH and that many bytes of report (one or more), F SEQ RC
# B64OUTPUT (a file step failed), S SEQ B64PATH (stopped before SEQ: an
# earlier entry changed PATH, see sandbox_trust.sh), END.
#
# Entries run as a push would run them, inside `unshare --root LAYER
# --pid --fork --kill-child setpriv --bounding-set …`: their own PID
# namespace (a daemon dies with its entry), without the capabilities that
# reach past the sandbox (chroot, ptrace, mount, modules, raw I/O, mknod,
# clock, reboot, resource limits, …).

NL='
'

# This program's own helpers run with LC_ALL=C (no locale to load in each
# process, messages as parsed); what entries run keeps the login's.

# sb_config CAP OUT TIME PROCS SHOW DIFFMAX REPORTMAX: the caps, in bytes,
# seconds and processes; how much output and content a reply carries
# (REPORTMAX: of all contents in the reports together).
sb_config() {
  SB_CAP=$1 SB_OUT=$2 SB_TIME=$3 SB_PROCS=$4 SB_SHOW=$5 SB_DIFFMAX=$6 SB_BUDGET=$7
}

# sb_b64 TEXT: TEXT in base64 on one line.
sb_b64() { printf '%s' "$1" | base64 -w0; }

# sb_no CODE REASON: the host cannot sandbox; say why and stop.
sb_no() { printf 'N %s %s\n' "$1" "$(sb_b64 "$2")"; echo END; exit 0; }

# sb_mounts: the overlays to make, from this namespace's mountinfo: every
# mount except kernel and pseudo filesystems, network filesystems and
# whatever is under /proc, /sys, /dev (those are made fresh). A mount point
# mounted over again keeps only its top mount. Mount points whose name
# needs escaping (a space) or holds a glob character are left out and
# reported as such.
sb_mounts() {
  SB_MPS=
  while read -r _ _ _ _ mp opts rest; do
    t=${rest#*- }; fs=${t%% *}
    case $fs in
      proc|sysfs|devtmpfs|devpts|cgroup|cgroup2|securityfs|debugfs|tracefs|pstore|bpf|mqueue|hugetlbfs|fusectl|configfs|binfmt_misc|autofs|efivarfs|rpc_pipefs|nfsd|selinuxfs|nsfs|ramfs|squashfs|iso9660) continue ;;
      nfs|nfs4|cifs|smb3|9p|ceph|glusterfs|fuse|fuse.*|afs|ncpfs|sshfs) continue ;;
    esac
    case $mp in
      /proc/driver|/proc/driver/*) SB_PROCBUSY=1; continue ;;
      /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;;
      *\\*|*,*|*:*|*\**|*\?*|*\[*) SB_SKIPPED="$SB_SKIPPED$mp$NL"; continue ;;
    esac
    ro=rw; case ,$opts, in *,ro,*) ro=ro ;; esac
    # Drop an earlier mount at the same point: the later one covers it.
    new=
    while IFS= read -r l; do
      [ -n "$l" ] || continue
      case $l in "$mp "*) ;; *) new="$new$l$NL" ;; esac
    done <<EOF
$SB_MPS
EOF
    SB_MPS="$new$mp $ro$NL"
  done < /proc/self/mountinfo
}

# sb_scratch: a directory to mount the scratch tmpfs on: one that exists
# and has no mount at or below it (so no overlay's lower dir is hidden).
sb_scratch() {
  for d in /mnt /media /opt /srv /home /root /var/tmp /tmp /boot; do
    if [ ! -d "$d" ] || [ -L "$d" ]; then continue; fi
    case $NL$SB_MPS in *"$NL$d "*|*"$NL$d/"*) continue ;; esac
    # / is a mount point of every path; only real submounts count.
    T=$d; return 0
  done
  return 1
}

# sb_dirs DIR...: directories file entries before the first command go
# into (see sb_newdirs).
sb_dirs() {
  SB_WANT=
  for d do SB_WANT="$SB_WANT$d$NL"; done
}

# sb_newdirs: of those, the ones the host lacks that setup can make
# through $T/f: in the root overlay, no ancestor a symlink or a file.
sb_newdirs() {
  SB_DIRS=
  set -f; IFS=$NL
  for d in $SB_WANT; do
    IFS=' 	
'
    if [ -d "$d" ] || [ -L "$d" ]; then continue; fi
    for mp in $SB_MPLIST /dev /proc /sys; do
      case $d in "$mp"/*) [ "$mp" = / ] || continue 2 ;; esac
    done
    a=$d; ok=1
    while [ -n "$a" ]; do
      a=${a%/*}
      if [ -L "$a" ] || { [ -e "$a" ] && [ ! -d "$a" ]; }; then ok=; break; fi
    done
    [ -z "$ok" ] || SB_DIRS="$SB_DIRS$d$NL"
  done
  IFS=' 	
'
  set +f
}

# sb_created SEQ PATH: entry SEQ, the first and the only command, has
# --creates PATH. A push skips it when PATH is there, on a plain stat of
# the host before anything else runs; so does the plan, before any
# sandbox is made (this namespace's /sys is still the host's).
sb_created() {
  if [ -z "${DT_NOSB:-}" ] && { [ -e "$2" ] || [ -L "$2" ]; }; then
    printf 'G %s c\nX %s 0 -\n' "$1" "$1"; sb_end; exit 0
  fi
}

# sb_setup KIND...: the scratch space, its output space and every layer
# (KIND f: the file entries before the first command, e: a command's,
# with its /dev), in two processes: the scratch tmpfs, then one mount -a.
sb_setup() {
  if [ -n "${DT_NOSB:-}" ]; then printf 'U %s\n' "$DT_NOSB"; echo END; exit 0; fi
  # PID 1 of its namespace ignores signals it has no handler for: give it
  # these, so a cut session (no one reads the reply) or a kill ends it.
  trap 'exit 143' TERM
  trap 'exit 141' PIPE
  for c in mount chroot unshare setpriv stat cat mkdir base64 install; do
    command -v "$c" > /dev/null 2>&1 || SB_MISSING="$SB_MISSING $c"
  done
  [ -z "$SB_MISSING" ] || sb_no tools "missing commands:$SB_MISSING"
  sb_tools
  [ -n "$SB_SETPRIV" ] || sb_no tools "setpriv must be in a directory of PATH named from / (PATH=$PATH)"
  [ -n "$SB_UNSHARE" ] || sb_no tools "unshare must be in a directory of PATH named from / (PATH=$PATH)"
  sb_mounts
  # The scratch space: a tmpfs over /proc/driver when that can be (see
  # sb_one), mounted with every layer by one mount process; else over a
  # directory of sb_scratch, by a mount of its own before the layers.
  for l in $SB_SKIPPED; do printf 'M %s\n' "$(sb_b64 "$l")"; done
  SB_MPLIST=; j=0
  while IFS= read -r l; do
    [ -n "$l" ] || continue
    SB_MPLIST="$SB_MPLIST ${l% *}"
    mp=${l% *}; eval "SB_MP_$j=\${mp%/}"; j=$((j + 1))
  done <<EOF
$SB_MPS
EOF
  sb_newdirs
  kinds=$*
  T=
  if [ -z "$SB_PROCBUSY" ] && [ -d /proc/driver ] && [ ! -L /proc/driver ]; then
    T=/proc/driver
    # shellcheck disable=SC2086 # the kinds, one word each
    sb_tab $kinds
    sb_one || T=
  fi
  if [ -z "$T" ]; then
    sb_scratch || sb_no scratch "no directory to mount the scratch space on (tried /mnt /media /opt /srv /home /root /var/tmp /tmp /boot)"
    err=$(LC_ALL=C mount -t tmpfs -o "size=$SB_CAP,mode=700" discoterm-sandbox "$T" 2>&1) || sb_no mount "cannot mount a tmpfs: $err"
    # shellcheck disable=SC2086
    sb_tab $kinds
    # libmount reads a table only from a regular file: one in the scratch space.
    printf '%s' "$tab" > "$T/fstab"
    err=$(LC_ALL=C mount -a -T "$T/fstab" 2>&1) || sb_nofollow
  fi
  SB_NOFOLLOW=
  while read -r _ _ _ _ mp opts _; do
    if [ "$mp" = "$T/f" ]; then
      case ,$opts, in *,nosymfollow,*) SB_NOFOLLOW=1 ;; *) SB_NOFOLLOW= ;; esac
    fi
  done < /proc/self/mountinfo
  case " $kinds " in *" e "*) [ -c "$T/r/1/dev/null" ] || sb_no mount "cannot give the sandbox a /dev/null" ;; esac
  : > "$T/cap"; SB_RAN=0; SB_K=0; R=$T/r/0
}

# sb_nofollow: mount -a failed: a mount older than nosymfollow
# (util-linux < 2.37), try again without it (what is mounted stays).
sb_nofollow() {
  printf '%s' "$tab" | while IFS= read -r l; do
    case $l in *,nosymfollow,*|"$T/f/"*) ;; *) printf '%s\n' "$l" ;; esac
  done > "$T/fstab"
  err=$(LC_ALL=C mount -a -T "$T/fstab" 2>&1) || sb_no overlay "cannot mount the sandbox (overlayfs, /dev, /proc): $err"
}

# sb_one: mount the scratch tmpfs on $T (/proc/driver) and every layer
# in one mount process. libmount reads a table only from a regular file,
# and there is none to write before the tmpfs: so the table is mount's
# own /proc/self/cmdline, each line an argument of its own ("\nLINE\n";
# mount -a uses no operand; the NUL-ended pieces between are lines it
# ignores with a warning). procfs refuses every mkdir, so if the tmpfs
# is not mounted the lines after it make nothing on any filesystem:
# then 1, and setup goes the two-process way.
sb_one() {
  set -f; IFS=$NL
  set -- "${NL}discoterm-sandbox $T tmpfs size=$SB_CAP,mode=700 0 0$NL"
  for l in $tab; do set -- "$@" "$NL$l$NL"; done
  IFS=' 	
'
  set +f
  LC_ALL=C mount -a -T /proc/self/cmdline "$@" > /dev/null 2>&1 && return 0
  # Failed: with the tmpfs mounted, as sb_setup's own mount -a would.
  while read -r _ _ _ _ mp _ rest; do
    if [ "$mp" = "$T" ]; then
      case $rest in *"- tmpfs discoterm-sandbox "*) sb_nofollow; return 0 ;; esac
    fi
  done < /proc/self/mountinfo
  return 1
}

# sb_tab KIND...: the fstab of every layer in tab, with the directories
# it needs (on the scratch space $T).
sb_tab() {
  kinds=$*
  set -- "$T/dev/.dt"
  tab="discoterm-out $T/out tmpfs size=$SB_OUT,mode=700,X-mount.mkdir 0 0$NL"
  k=0
  for kind in $kinds; do
    R=$T/r/$k; j=0
    set -- "$@" "$R"
    while IFS= read -r l; do
      [ -n "$l" ] || continue
      mp=${l% *}; ro=${l##* }
      low=$mp; i=0
      while [ $i -lt $k ]; do low="$T/u/$i/$j:$low"; i=$((i + 1)); done
      if [ "$ro" = ro ]; then
        o="ro,lowerdir=$low"
        [ $k -gt 0 ] || o="ro,lowerdir=$mp:$T/u/0/$j" # overlay needs two lower dirs without an upper
      else
        o="lowerdir=$low,upperdir=$T/u/$k/$j,workdir=$T/w/$k/$j"
      fi
      set -- "$@" "$T/u/$k/$j" "$T/w/$k/$j"
      tab="${tab}overlay $R${mp%/} overlay $o 0 0$NL"
      j=$((j + 1))
    done <<EOF
$SB_MPS
EOF
    if [ "$kind" = e ]; then
      set -- "$@" "$T/du/$k" "$T/dw/$k"
      tab="${tab}overlay $R/dev overlay lowerdir=/dev,upperdir=$T/du/$k,workdir=$T/dw/$k,nodev,nosuid,noexec 0 0$NL"
      for d in null zero full random urandom tty; do
        tab="$tab/dev/$d $R/dev/$d none bind,nofail 0 0$NL"
      done
      tab="$tab$T/dev/.dt $R/dev/.dt none bind,X-mount.mkdir 0 0$NL"
    else
      tab="$tab$T/dev $R/dev none bind 0 0$NL"
    fi
    # The file entries before any command are placed from here, by
    # builtins, through $T/f: layer 0's root overlay again, on a mount
    # that follows no symlink, so nothing can lead a write out of it.
    if [ $k -eq 0 ]; then
      tab="$tab$R $T/f none bind,nosymfollow,X-mount.mkdir 0 0$NL"
      # The new directories the file entries need, made by this mount
      # process (X-mount.mkdir, through $T/f, as mkdir -p would) rather
      # than by a mkdir of their own: each is bound over itself, which
      # changes nothing but gives libmount a target to make.
      set -f; IFS=$NL
      for d in $SB_DIRS; do tab="$tab$T/f$d $T/f$d none bind,X-mount.mkdir 0 0$NL"; done
      IFS=' 	
'
      set +f
    fi
    if [ "$kind" = e ]; then
      tab="${tab}proc $R/proc proc ro,nosuid,nodev,noexec 0 0${NL}sysfs $R/sys sysfs ro,nosuid,nodev,noexec,nofail 0 0$NL"
    fi
    k=$((k + 1))
  done
  # The scratch directories are made by the same mount process, not by a
  # mkdir of their own: X-mount.mkdir makes a mount's target, so each is
  # bound over itself through $T/m (a second view of the scratch tmpfs,
  # which no layer and no entry sees), and the directory under $T is
  # then there for the layers to use.
  mk="$T $T/m none bind,X-mount.mkdir 0 0$NL"
  for d do mk="$mk$T/m${d#"$T"} $T/m${d#"$T"} none bind,X-mount.mkdir 0 0$NL"; done
  tab=$mk$tab
}

# Capabilities an entry keeps: what a package script or a config edit
# needs (file ownership and modes, setuid, signals inside its own PID
# namespace, its own network namespace), none that reach outside it: no
# real-time scheduling or locked memory either (they starve the host).
SB_CAPS='-all,+chown,+dac_override,+dac_read_search,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,+net_bind_service,+net_broadcast,+net_admin,+net_raw,+ipc_owner,+lease,+audit_write,+setfcap,+linux_immutable'

# sb_run CMD ARG...: run CMD (a constant script of this file) inside the
# current layer R, as an entry runs: own PID namespace, reduced
# capabilities, under the watch of the caps. Output goes to the capped
# output space; fd 3 to $T/g for guard results.
sb_run() {
  sb_trusted "$SB_SEQ"
  : > "$T/out/o"; : > "$T/g"; : > "$T/cap"
  # setpriv by its host path: it starts inside the layer with every
  # capability (see sandbox_trust.sh).
  if [ -z "${SB_OLDUNSHARE:-}" ]; then
    unshare --root="$R" --pid --fork --kill-child "$SB_SETPRIV" --bounding-set "$SB_CAPS" --inh-caps=-all -- /bin/sh -c "$@" < /dev/null > "$T/out/o" 2>&1 3> "$T/g" &
  else
    chroot "$R" "$SB_UNSHARE" --pid --fork --kill-child "$SB_SETPRIV" --bounding-set "$SB_CAPS" --inh-caps=-all -- /bin/sh -c "$@" < /dev/null > "$T/out/o" 2>&1 3> "$T/g" &
  fi
  p=$!
  sb_watch "$p" &
  w=$!
  wait "$p"; rc=$?
  kill "$w" 2> /dev/null
  if [ "$rc" -eq 1 ] && [ -z "${SB_OLDUNSHARE:-}" ] && [ ! -s "$T/g" ]; then
    # An unshare older than --root (util-linux < 2.36) refuses the option
    # before anything ran: then chroot first.
    l=; read -r l < "$T/out/o"
    case $l in unshare:*--root*) SB_OLDUNSHARE=1; sb_run "$@"; return ;; esac
  fi
  cap=-
  if [ -s "$T/cap" ]; then read -r cap < "$T/cap"; fi
  # The output space or the upper layers full: that cap, even when the
  # entry went on to exit 0 (its writes failed).
  if [ "$cap" = - ]; then sb_full; fi
}

# sb_full: set cap when the output space or the upper layers are full: a
# byte that does not fit says so (a builtin, no statfs process).
sb_full() {
  if ! { printf x > "$T/out/p"; } 2> /dev/null; then cap=output
  elif ! { printf x > "$T/p"; } 2> /dev/null; then cap=space
  fi
  : > "$T/out/p"; : > "$T/p"
}

# sb_watch PID: end the entry at its time limit, when its processes
# (counted in the sandbox's /proc) pass SB_PROCS, or when its output
# filled the output space. The entry's PID
# namespace ends with its first process, the child of PID: killing that
# one makes PID's wait return only once every process of it is gone.
sb_watch() {
  n=0; lim=$((SB_TIME * 10))
  while LC_ALL=C sleep 0.1; do
    kill -0 "$1" 2> /dev/null || exit 0
    set -- "$1" "$R/proc"/[0-9]*
    if [ $# -gt "$SB_PROCS" ]; then echo procs > "$T/cap"; sb_end_entry "$1"; exit 0; fi
    set -- "$1"
    cap=-; sb_full
    if [ "$cap" = output ]; then echo output > "$T/cap"; sb_end_entry "$1"; exit 0; fi
    n=$((n + 1))
    if [ "$n" -ge "$lim" ]; then echo time > "$T/cap"; sb_end_entry "$1"; exit 0; fi
  done
}

# sb_end_entry PID: kill PID's child (the entry's PID 1), then PID.
sb_end_entry() {
  for f in "$R/proc"/[0-9]*/stat; do
    l=; read -r l < "$f" 2> /dev/null || continue
    # The fields after the command name, which may hold anything but ")".
    l=${l##*) }
    case $l in "? $1 "*) ;; *) continue ;; esac
    f=${f%/stat}; kill -s KILL "${f##*/}" 2> /dev/null
  done
  kill -s KILL "$1" 2> /dev/null
}

# SB_FILES (inside a layer) OP PATH MODE OWNER GROUP UMASK DATA ...: place
# file entries as a push would (parents made as mkdir -p does; the target
# replaced, not written through). OP t: DATA is the text itself, written
# by printf under UMASK (MODE and OWNER "" when that already gives them);
# f: DATA names content staged in /dev/.dt; -: remove PATH as a remove
# entry does (a file, a symlink or an empty directory; absent is done).
# Builtins wherever they do: a new text file costs no process at all.
# shellcheck disable=SC2016
SB_FILES='cd / || exit 1
while [ $# -ge 7 ]; do
  case $1 in
  -)
    if [ -d "$2" ] && [ ! -L "$2" ]; then rmdir -- "$2" || exit 1; else rm -f -- "$2" || exit 1; fi ;;
  t)
    d=${2%/*}; [ -n "$d" ] || d=/
    [ -d "$d" ] || mkdir -p -- "$d" || exit 1
    t=$2
    if [ -e "$2" ] || [ -L "$2" ]; then t=$d/.discoterm-sandbox.$$; fi
    umask "$6"; printf "%s" "$7" > "$t" || exit 1; umask 022
    [ -z "$3" ] || chmod -- "$3" "$t" || exit 1
    [ -z "$4" ] || chown -- "$4:$5" "$t" || exit 1
    [ "$t" = "$2" ] || mv -f -- "$t" "$2" || exit 1 ;;
  *)
    install -D -m "$3" -o "$4" -g "$5" "/dev/.dt/$7" "$2" || exit 1 ;;
  esac
  shift 7
done'

# SB_EXEC (inside a layer) NAME VALUE ... CREATES UNLESS COMMAND: the
# exec entry with its guards, evaluated here and only here. Positional
# parameters only, so no variable NAME can change what runs.
# shellcheck disable=SC2016
SB_EXEC='while [ $# -gt 3 ]; do export "$1=$2"; shift 2; done
cd / || exit 1
if [ -n "$1" ] && { [ -e "$1" ] || [ -L "$1" ]; }; then echo c >&3; exit 0; fi
if [ -n "$2" ]; then
  ( eval "$2" ) < /dev/null > /dev/null 2>&1 3>&-
  set -- "$1" "$?" "$3"
  echo "u $2" >&3
  [ "$2" -ne 0 ] || exit 0
fi
echo r >&3
exec 3>&-
eval "$3"'

# sb_stage IDX b64|text CONTENT: stage an entry's content before any entry
# runs (so nothing an entry does can redirect where it lands).
sb_stage() {
  if [ "$2" = b64 ]; then
    printf '%s' "$3" | base64 -d > "$T/dev/.dt/$1"
  else
    printf '%s' "$3" > "$T/dev/.dt/$1"
  fi
}

# sb_files SEQ IDX PATH MODE OWNER GROUP ...: file entries in the current
# layer. Their effect is predicted by the engine; a failure stops here as
# it would stop the push. Before any command ran, the layer holds only
# what this program placed and only its own code runs: a plain chroot.
sb_files() {
  s=$1; shift
  : > "$T/out/o"
  if [ "$SB_RAN" = 0 ] && [ -n "$SB_NOFOLLOW" ]; then
    # New text files whose mode the umask gives, in directories that
    # exist or mkdir -p makes, cost no process of their own; the rest
    # (from the first entry that needs more) go to the chroot below.
    # Only in the root overlay ($T/f holds no other mount).
    while [ $# -ge 7 ] && [ "$1" = t ] && [ -z "$3$4" ]; do
      for mp in $SB_MPLIST /dev /proc /sys; do
        case $2 in "$mp"/*) [ "$mp" = / ] || break 2 ;; esac
      done
      if [ -e "$T/f$2" ] || [ -L "$T/f$2" ]; then break; fi
      d=${2%/*}
      if [ -n "$d" ] && [ ! -d "$T/f$d" ]; then LC_ALL=C mkdir -p -- "$T/f$d" 2> /dev/null || break; fi
      umask "$6"
      if ! printf '%s' "$7" 2> /dev/null > "$T/f$2"; then umask 022; break; fi
      umask 022
      shift 7
    done
    [ $# -ge 7 ] || return 0
  fi
  SB_SEQ=$s
  if [ "$SB_RAN" = 0 ]; then
    sb_trusted "$s"
    chroot "$R" /bin/sh -c "$SB_FILES" sh "$@" < /dev/null > "$T/out/o" 2>&1
    rc=$?
  else
    sb_run "$SB_FILES" sh "$@"
  fi
  if [ "$rc" -ne 0 ]; then
    printf 'F %s %s %s\n' "$s" "$rc" "$(head -c 4096 "$T/out/o" | base64 -w0)"
    echo END; exit 0
  fi
}

# sb_exec SEQ NAME VALUE ... CREATES UNLESS COMMAND: one exec entry in a
# layer of its own, then what it changed.
sb_exec() {
  s=$1; shift
  SB_K=$((SB_K + 1)); R=$T/r/$SB_K
  SB_RAN=1; SB_SEQ=$s
  sb_run "$SB_EXEC" sh "$@"
  g=; if [ -s "$T/g" ]; then read -r g < "$T/g"; fi
  printf 'G %s %s\nX %s %s %s\n' "$s" "${g:--}" "$s" "$rc" "$cap"
  sb_report "$s"
  # A push stops at the first failing entry: so does the sandbox.
  if [ "$rc" -ne 0 ]; then echo END; exit 0; fi
}

sb_end() { echo END; }
