# shellcheck shell=sh
# fetch.sh: old contents for diffs, one C line per path: index, then the
# content in base64 (one line), or "-" when it is not a regular file.

# fetch INDEX PATH
fetch() {
  if [ -f "$2" ]; then printf 'C %s ' "$1"; base64 -w0 -- "$2"; echo; else echo "C $1 -"; fi
}

finish() { echo END; }
