# shellcheck shell=sh
# state.sh: the host's own record of what it applied ($ST; format in
# statefile.go). It is only ever replaced whole: temporary file, fsync,
# rename, after the entry it records succeeded.

NL='
'
# Processes dominate the cost of a step (a fork and exec is ~1.5 ms on a
# small host), so what can be a builtin is one: time from /proc.
now() { read -r up _ < /proc/uptime; c=${up#*.}; NOW="${up%.*}${c}"; }

# readstate: BR0, POS0, H0 and HIST (the applied lines) from $ST. One
# cat, not a read per byte: the applied history grows with the journal.
readstate() {
  BR0=; POS0=0; H0=; HIST=
  if [ -f "$ST" ]; then
    rest=$(cat -- "$ST"; echo x); rest=${rest%x}
    for _ in 1 2 3 4; do
      l=${rest%%"$NL"*}; rest=${rest#*"$NL"}
      case $l in 'branch '*) BR0=${l#branch };; 'position '*) POS0=${l#position };; 'hash '*) H0=${l#hash };; esac
    done
    case $rest in 'applied '*) HIST=$rest;; esac
  fi
  POS=$POS0; H=$H0
}

# wstate: write the current state (BR, POS, H, HIST).
wstate() {
  { printf '# discoterm state v1\nbranch %s\nposition %s\nhash %s\n' "$BR" "$POS" "$H"; printf '%s' "$HIST"; } > "$SD/.state.$$" &&
    sync -- "$SD/.state.$$" && mv -f -- "$SD/.state.$$" "$ST"
}

# applied SEQ HASH START_CS: the history line (A) of an entry that succeeded.
applied() { now; A="applied $1 $2 $((t0 + (NOW - u0) / 100)) $((NOW - $3)) ok$NL"; }

# done_entry SEQ HASH START_CS: record one entry as applied, or leave the
# state as it was.
done_entry() {
  applied "$@"; OH=$HIST; OP=$POS; OHASH=$H
  HIST="$HIST$A"; POS=$1; H=$2
  wstate || { HIST=$OH; POS=$OP; H=$OHASH; return 1; }
}
