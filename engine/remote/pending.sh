# shellcheck shell=sh
# pending.sh: part of every apply (comeback.sh only of a push that must
# come back). A revert armed on the host blocks every other push: its
# revert would undo theirs too. A record whose reverter died (a crash, a
# reboot), or whose apply died before arming it, was never confirmed: it
# is reverted now, with the reverter code kept beside it, and the push
# that found it is stale.

# arm: a push that does not have to come back arms nothing (comeback.sh
# replaces this).
# shellcheck disable=SC2317 # replaced by comeback.sh's arm when it is sent
arm() { :; }

# pending: before any push: a revert armed on this host blocks it; one
# whose reverter died is carried out now.
pending() {
  for pr in "$SD"/comeback/*; do
    [ -d "$pr" ] || continue
    case $pr in *.ok) rm -rf -- "$pr"; continue ;; esac
    alive=
    if [ -f "$pr/pid" ]; then
      pp=; pps=; read -r pp pps < "$pr/pid"
      case $pp in '' | *[!0-9]*) ;; *) if pstart "$pp" && [ "$PSTART" = "$pps" ]; then alive=1; fi ;; esac
    fi
    ptok=${pr##*/}; ptok=${ptok%.rev}
    if [ -n "$alive" ]; then echo "STALE armed"; exit 0; fi
    case $pr in
      *.rev) ;;
      *)
        pdl=; [ -f "$pr/armed" ] && read -r pdl < "$pr/armed"
        case $pdl in '' | *[!0-9]*) pdl=0 ;; esac
        if [ "$pdl" -gt 0 ] && [ "$(date +%s)" -lt $((pdl + 5)) ]; then echo "STALE armed"; exit 0; fi
        mv -T -- "$pr" "$pr.rev" 2> /dev/null || { echo "STALE armed"; exit 0; } ;;
    esac
    pv="$SD/comeback/$ptok.rev"
    # No reverter beside it: its keep failed before anything was saved.
    if ! [ -f "$pv/reverter.sh" ]; then rm -rf -- "$pv"; continue; fi
    sh "$pv/reverter.sh" 0 "$SD" "$ptok" 1 < /dev/null > /dev/null 2>&1
    echo "STALE reverted"; exit 0
  done
}
