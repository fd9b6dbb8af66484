# shellcheck shell=sh
# lock.sh: one push at a time per host, by noclobber (no process). A lock
# whose process is gone (a host that crashed mid-push) is broken.

# takelock: create $LOCK holding our pid; fails when it exists.
takelock() {
  set -C
  if { echo $$ > "$LOCK"; } 2> /dev/null; then r=0; else r=1; fi
  set +C
  return $r
}

# lockhost: take the lock or answer BUSY with the holder's pid.
lockhost() {
  LOCK="$SD/.lock"
  if ! takelock; then
    op=; read -r op < "$LOCK"
    case $op in '' | *[!0-9]*) op= ;; esac
    if [ -n "$op" ] && kill -0 "$op" 2> /dev/null; then echo "BUSY $op"; exit 0; fi
    rm -f -- "$LOCK"
    takelock || { echo "BUSY ?"; exit 0; }
  fi
}
