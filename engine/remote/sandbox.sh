# shellcheck shell=sh
# sandbox.sh: the plan's copy-on-write sandbox of a host. The SSH command
# is `exec unshare --mount --net --uts --ipc --pid --fork --propagation
# private --kill-child /bin/sh -s`, so this whole program already runs in
# private namespaces: its mounts are invisible to the host, it has only a
# loopback device (down), and every process it starts dies with it (it is
# PID 1 of its namespace). Nothing here writes to a host filesystem: the
# scratch space is a tmpfs mounted over an existing directory, in this
# namespace only.
#
# Layout on the scratch tmpfs $T (capped at SB_CAP bytes, the upper
# layers' total):
#   u/K/J, w/K/J  upper and work dir of layer K for overlay J (J=0 is /,
#                 then one per writable local mount of the host)
#   r/K           layer K's merged root: overlay J of layer K has lower
#                 dirs u/K-1/J:…:u/0/J:<host mount>, so u/K/J holds exactly
#                 what the step run in layer K changed
#   proc sys      fresh proc (this PID namespace; /proc/sys & co read-only)
#                 and a read-only sysfs of this network namespace
# $T/dev is a separate small tmpfs with a handful of device nodes (no
# disks), and $T/out a tmpfs of SB_OUT bytes for an entry's output.
#
# Replies (see sandbox_parse.go): N CODE B64REASON (cannot sandbox),
# M B64MOUNTPOINT (a mount left out: its name needs escaping), G SEQ c|u RC|r,
# X SEQ RC CAP SIZE, O SEQ B64HEAD, B SEQ B64REPORT, F SEQ RC B64OUTPUT
# (a file step failed), END.
#
# Entries run as a push would run them, inside `chroot LAYER unshare --pid
# --fork --kill-child setpriv --bounding-set …`: their own PID namespace
# (a daemon dies with its entry), without the capabilities that reach past
# the sandbox (chroot, ptrace, mount, modules, raw I/O, mknod, clock,
# reboot, resource limits, …).

NL='
'

# sb_config CAP OUT TIME PROCS SHOW DIFFMAX REPORTMAX: the caps, in bytes,
# seconds and processes; how much output and content a reply carries.
sb_config() {
  SB_CAP=$1 SB_OUT=$2 SB_TIME=$3 SB_PROCS=$4 SB_SHOW=$5 SB_DIFFMAX=$6 SB_REPORTMAX=$7
}

# sb_b64 TEXT: TEXT in base64 on one line.
sb_b64() { printf '%s' "$1" | base64 -w0; }

# sb_no CODE REASON: the host cannot sandbox; say why and stop.
sb_no() { printf 'N %s %s\n' "$1" "$(sb_b64 "$2")"; echo END; exit 0; }

# sb_mounts: the overlays to make, from this namespace's mountinfo: every
# mount except kernel and pseudo filesystems, network filesystems and
# whatever is under /proc, /sys, /dev (those are made fresh). A mount point
# mounted over again keeps only its top mount. Mount points whose name
# needs escaping (a space) are left out and reported as such.
sb_mounts() {
  SB_MPS=
  while read -r _ _ _ _ mp opts rest; do
    t=${rest#*- }; fs=${t%% *}
    case $fs in
      proc|sysfs|devtmpfs|devpts|cgroup|cgroup2|securityfs|debugfs|tracefs|pstore|bpf|mqueue|hugetlbfs|fusectl|configfs|binfmt_misc|autofs|efivarfs|rpc_pipefs|nfsd|selinuxfs|nsfs|ramfs|squashfs|iso9660) continue ;;
      nfs|nfs4|cifs|smb3|9p|ceph|glusterfs|fuse|fuse.*|afs|ncpfs|sshfs) continue ;;
    esac
    case $mp in
      /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;;
      *\\*|*,*|*:*) SB_SKIPPED="$SB_SKIPPED$mp$NL"; continue ;;
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

# sb_setup: the scratch space, its output space and device nodes; the
# layers come with the entries.
sb_setup() {
  trap 'exit 143' TERM
  trap 'exit 141' PIPE
  for c in mount chroot unshare setpriv find stat base64 install; do
    command -v "$c" > /dev/null 2>&1 || SB_MISSING="$SB_MISSING $c"
  done
  [ -z "$SB_MISSING" ] || sb_no tools "missing commands:$SB_MISSING"
  sb_mounts
  sb_scratch || sb_no scratch "no directory to mount the scratch space on (tried /mnt /media /opt /srv /home /root /var/tmp /tmp /boot)"
  err=$(mount -t tmpfs -o "size=$SB_CAP,mode=700" discoterm-sandbox "$T" 2>&1) || sb_no mount "cannot mount a tmpfs: $err"
  mkdir -p "$T/dev/shm" "$T/dev/pts" "$T/dev/.dt" || sb_no mount "cannot make the scratch directories"
  err=$(mount -t tmpfs -o "size=$SB_OUT,mode=700,X-mount.mkdir" discoterm-out "$T/out" 2>&1) || sb_no mount "cannot mount the output space: $err"
  cp -a /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/fd /dev/stdin /dev/stdout /dev/stderr "$T/dev/" 2> /dev/null
  [ -c "$T/dev/null" ] || sb_no mount "cannot make device nodes for the sandbox"
  : > "$T/cap"; SB_RAN=0
  SB_MPLIST=
  while IFS= read -r l; do
    [ -n "$l" ] || continue
    SB_MPLIST="$SB_MPLIST ${l% *}"
  done <<EOF
$SB_MPS
EOF
  for l in $SB_SKIPPED; do printf 'M %s\n' "$(sb_b64 "$l")"; done
  SB_K=-1
}

# sb_layer [exec]: mount the next layer and make it the current root R,
# with the sandbox's /dev; a layer for a command also gets /proc (fresh,
# of this PID namespace, read-only: /proc/sys, /proc/sysrq-trigger and
# the like reach the host's kernel) and a read-only /sys.
sb_layer() {
  k=$((SB_K + 1)); j=0; kind=${1:-}
  R=$T/r/$k
  set -- "$R"
  tab=
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
  tab="$tab$T/dev $R/dev none bind 0 0$NL"
  if [ "$kind" = exec ]; then
    tab="${tab}proc $R/proc proc ro,nosuid,nodev,noexec 0 0${NL}sysfs $R/sys sysfs ro,nosuid,nodev,noexec,nofail 0 0$NL"
  fi
  mkdir -p -- "$@" || sb_no mount "cannot make layer $k"
  # One mount process for the whole layer (a mount costs a process of
  # its own, and processes are what a step costs): a table in the scratch
  # space (libmount does not read one from a pipe).
  printf '%s' "$tab" > "$T/fstab.$k"
  err=$(mount -a -T "$T/fstab.$k" 2>&1) || {
    [ $k -eq 0 ] && sb_no overlay "cannot mount the sandbox (overlayfs, /dev, /proc): $err"
    sb_no overlay "cannot mount layer $k of the sandbox: $err"
  }
  SB_K=$k
}

# Capabilities an entry keeps: what a package script or a config edit
# needs (file ownership and modes, setuid, signals inside its own PID
# namespace, its own network namespace), none that reach outside it.
SB_CAPS='-all,+chown,+dac_override,+dac_read_search,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,+net_bind_service,+net_broadcast,+net_admin,+net_raw,+ipc_lock,+ipc_owner,+sys_nice,+lease,+audit_write,+setfcap,+linux_immutable'

# sb_in CMD ARG...: run CMD (a constant script of this file) inside the
# current layer, as an entry runs: own PID namespace, reduced capabilities.
# Output goes to the capped output space; fd 3 to $T/g for guard results.
# Before any command ran, the layer holds only what this program placed,
# and the file step runs with a plain chroot.
sb_in() {
  : > "$T/out/o"; : > "$T/g"; : > "$T/cap"
  if [ "$SB_RAN" = 0 ] && [ "$1" = "$SB_FILES" ]; then
    # Only this program's own code runs here, and it ends: no watchdog.
    chroot "$R" /bin/sh -c "$@" < /dev/null > "$T/out/o" 2>&1
    rc=$? cap=-
    return
  else
    chroot "$R" unshare --pid --fork --kill-child setpriv --bounding-set "$SB_CAPS" --inh-caps=-all -- /bin/sh -c "$@" < /dev/null > "$T/out/o" 2>&1 3> "$T/g" &
  fi
  p=$!
  sb_watch "$p" &
  w=$!
  wait "$p"; rc=$?
  kill "$w" 2> /dev/null
  cap=-
  if [ -s "$T/cap" ]; then read -r cap < "$T/cap"; fi
  if [ "$rc" -ne 0 ] && [ "$cap" = - ]; then
    # ENOSPC from the upper layers or the output space: say which cap.
    # shellcheck disable=SC2046
    set -- $(stat -f -c '%a' "$T/out" "$T" 2> /dev/null)
    if [ "${1:-1}" -eq 0 ]; then cap=output; elif [ "${2:-1}" -eq 0 ]; then cap=space; fi
  fi
}

# sb_watch PID: end the entry at its time limit or when its processes
# (counted in the sandbox's /proc) pass SB_PROCS.
sb_watch() {
  n=0; lim=$((SB_TIME * 10))
  while sleep 0.1; do
    kill -0 "$1" 2> /dev/null || exit 0
    set -- "$1" "$R/proc"/[0-9]*
    if [ $# -gt "$SB_PROCS" ]; then echo procs > "$T/cap"; kill -s KILL "$1"; exit 0; fi
    set -- "$1"
    n=$((n + 1))
    if [ "$n" -ge "$lim" ]; then echo time > "$T/cap"; kill -s KILL "$1"; exit 0; fi
  done
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
# it would stop the push.
sb_files() {
  s=$1; shift
  [ "$SB_K" -ge 0 ] || sb_layer
  sb_in "$SB_FILES" sh "$@"
  if [ "$rc" -ne 0 ]; then
    printf 'F %s %s %s\n' "$s" "$rc" "$(head -c 4096 "$T/out/o" | base64 -w0)"
    echo END; exit 0
  fi
}

# sb_exec SEQ NAME VALUE ... CREATES UNLESS COMMAND: one exec entry in a
# layer of its own, then what it changed.
sb_exec() {
  s=$1; shift
  sb_layer exec
  SB_RAN=1
  sb_in "$SB_EXEC" sh "$@"
  g=; if [ -s "$T/g" ]; then read -r g < "$T/g"; fi
  printf 'G %s %s\n' "$s" "${g:--}"
  set -- 0
  # shellcheck disable=SC2046
  if [ -s "$T/out/o" ]; then set -- $(stat -c %s "$T/out/o"); fi
  printf 'X %s %s %s %s\n' "$s" "$rc" "$cap" "$1"
  if [ "$1" -gt 0 ]; then printf 'O %s %s\n' "$s" "$(head -c "$SB_SHOW" "$T/out/o" | base64 -w0)"; fi
  printf 'B %s ' "$s"
  SB_T=$T SB_MAX=$SB_DIFFMAX find "$T/u/$SB_K" -mindepth 2 -exec /bin/sh -c "$SB_REPORT" sh "$SB_K" "$SB_MPLIST" {} + 2> /dev/null | head -c "$SB_REPORTMAX" | base64 -w0
  echo
  # A push stops at the first failing entry: so does the sandbox.
  if [ "$rc" -ne 0 ]; then echo END; exit 0; fi
}

# SB_REPORT K MOUNTPOINTS UPPERPATH...: one record per path changed in
# layer K, NUL-separated (names cannot hold NUL): P, path, "seen" when an
# earlier layer holds the path, then the stat of the upper entry and of
# what was there before (that earlier layer's entry, else the host's own), then contents (A/L SIZE BYTES, up to SB_MAX) or
# sha256 (a/l HASH) of regular files, and symlink targets (T/t).
# shellcheck disable=SC2016
SB_REPORT='k=$1; mps=$2; shift 2
fmt="%f %a %U %G %s %t %T"
for u do
  r=${u#"$SB_T/u/$k/"}; j=${r%%/*}; rel=${r#*/}
  case $j in ""|*[!0-9]*) continue ;; esac
  set -- $mps; shift "$j"; mp=$1
  p=${mp%/}/$rel
  # Before: the newest earlier layer holding the path ("seen"), else the
  # file on the host.
  seen=-; b=$p; i=$((k - 1))
  while [ $i -ge 0 ]; do
    if [ -e "$SB_T/u/$i/$j/$rel" ] || [ -L "$SB_T/u/$i/$j/$rel" ]; then seen=seen; b=$SB_T/u/$i/$j/$rel; break; fi
    i=$((i - 1))
  done
  if [ -e "$b" ] || [ -L "$b" ]; then
    set -- $(stat -c "$fmt" -- "$u" "$b")
  else
    set -- $(stat -c "$fmt" -- "$u") - - - - - - -
  fi
  printf "P\0%s\0%s\0%s\0%s\0" "$p" "$seen" "$*" ""
  case $1 in
    8*) if [ "$5" -le "$SB_MAX" ]; then printf "A\0%s\0" "$5"; cat -- "$u"; else printf "a\0%s\0" "$(sha256sum < "$u")"; fi ;;
    a*) printf "T\0%s\0" "$(readlink -- "$u")" ;;
  esac
  case $8 in
    8*) if [ -f "$b" ] && [ ! -L "$b" ]; then
          if [ "${12}" -le "$SB_MAX" ]; then printf "L\0%s\0" "${12}"; cat -- "$b"; else printf "l\0%s\0" "$(sha256sum < "$b")"; fi
        fi ;;
    a*) printf "t\0%s\0" "$(readlink -- "$b")" ;;
  esac
done'

sb_end() { echo END; }
