# shellcheck shell=sh
# cancel.sh: ask a running push to stop after its current entry. The
# apply program checks for this file between entries (signals would cut
# an entry in half: it ignores them).

# cancel STATEDIR TOKEN
cancel() { mkdir -p -- "$1" && : > "$1/.cancel.$2"; }
