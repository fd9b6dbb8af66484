# shellcheck shell=sh
# lock.sh: one push at a time per host, by noclobber (no process). The
# lock names its holder by PID and start time (from /proc/PID/stat): a
# lock whose process is gone, or whose PID now belongs to another process
# (PIDs are reused after a crash and reboot), is stale and taken over.

# pstart PID: set PSTART to the process's start time (clock ticks since
# boot, field 22 of /proc/PID/stat); fails when there is no such process
# (or only its zombie, which nobody reaped yet).
pstart() {
  PSTART=; l=
  read -r l < "/proc/$1/stat" 2> /dev/null || return 1
  l=${l##*) }
  set -f
  # shellcheck disable=SC2086 # fields, on purpose
  set -- $l
  set +f
  [ "$1" != Z ] || return 1
  PSTART=${20}
  [ -n "$PSTART" ]
}

# takelock: create $LOCK holding our pid and start time; fails when it
# exists.
takelock() {
  pstart $$ || PSTART=0
  set -C
  if { echo "$$ $PSTART" > "$LOCK"; } 2> /dev/null; then r=0; else r=1; fi
  set +C
  return $r
}

# lockhost: take the lock; while another live push holds it, wait for it
# (polling, up to about 30 s: pushes to one host are serialised, and the
# later one then finds the host moved on, stale) before answering BUSY
# with the holder's pid.
lockhost() {
  LOCK="$SD/.lock"
  lw=0
  until takelock; do
    lw=$((lw + 1))
    op=; os=; read -r op os < "$LOCK"
    case $op in '' | *[!0-9]*) op= ;; esac
    [ "$lw" -le 150 ] || { echo "BUSY ${op:-?}"; exit 0; }
    if [ -n "$op" ] && pstart "$op" && { [ -z "$os" ] || [ "$os" = "$PSTART" ]; }; then
      sleep 0.2
      continue
    fi
    # Stale. Take it over only if it is still the lock we judged (another
    # push may have taken it over meanwhile; then try again).
    op2=; os2=; read -r op2 os2 < "$LOCK"
    if [ "$op2 $os2" = "${op:-$op2} $os" ]; then rm -f -- "$LOCK"; else sleep 0.2; fi
  done
}
