# shellcheck shell=sh
# confirm.sh: the controller came back (over a fresh SSH connection): keep
# the push. The record's rename is the claim (comeback.sh): whichever of
# this and the reverter renames it first wins. Replies, one line:
#   CONFIRMED   the push stays; its reverter is stopped
#   REVERTED    too late: the reverter has put the host back
#   GONE        no revert was armed for this push (nothing changed)

# confirm STATEDIR TOKEN
confirm() {
  r="$1/comeback/$2"
  if mv -T -- "$r" "$r.ok" 2> /dev/null; then
    how=; [ -f "$r.ok/how" ] && read -r how < "$r.ok/how"
    if [ "$how" = systemd ]; then
      systemctl stop "discoterm-revert-$2.timer" > /dev/null 2>&1
    elif [ -f "$r.ok/pid" ]; then
      cp=; cps=; read -r cp cps < "$r.ok/pid"
      # The reverter leads its own session (setsid): its group is its pid.
      # It ignores the signals apply ignored: only KILL stops it. Right
      # after arming it may not lead its group yet: then the process.
      case $cp in '' | *[!0-9]* | 0 | 1) ;; *) if pstart "$cp" && [ "$PSTART" = "$cps" ]; then kill -KILL "-$cp" 2> /dev/null || kill -KILL "$cp" 2> /dev/null; fi ;; esac
    fi
    rm -rf -- "$r.ok"
    echo CONFIRMED
  elif [ -e "$r.reverted" ] || [ -d "$r.rev" ]; then
    echo REVERTED
  else
    echo GONE
  fi
}
