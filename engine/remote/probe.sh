# shellcheck shell=sh
# probe.sh: what a plan reads of a host in one round trip. Replies (see
# reply.go): F facts, S-BEGIN/S/S-END or S-NOTFILE for the state file,
# E/T/H per path, END. (No guard: those run only in the sandbox.)

# facts: hostname, machine-id and OS name. read -r takes one line, so no
# value can carry a newline into the reply.
facts() {
  hn=; mid=; os=
  if [ -r /proc/sys/kernel/hostname ]; then read -r hn < /proc/sys/kernel/hostname; fi
  if [ -r /etc/machine-id ]; then read -r mid < /etc/machine-id; fi
  if [ -r /etc/os-release ]; then
    while IFS= read -r l; do case $l in PRETTY_NAME=*) os=${l#PRETTY_NAME=};; esac; done < /etc/os-release
  fi
  printf 'F hostname %s\nF machine-id %s\nF os %s\n' "$hn" "$mid" "$os"
}

# clock: the host's clock (Unix seconds), for the plan to show a skew: a
# host keeps maintenance windows by its own clock. A process (date), so
# only the probes that show it ask for it.
clock() { printf 'F time %s\n' "$(date +%s)"; }

# state FILE: the state file's header lines. The applied history grows
# with the journal and a plan needs none of it (read reads a byte per
# system call, too).
state() {
  if [ -f "$1" ]; then
    echo S-BEGIN
    while IFS= read -r l || [ -n "$l" ]; do
      case $l in 'applied '*) break;; esac
      printf 'S %s\n' "$l"
    done < "$1"
    echo S-END
  elif [ -e "$1" ]; then
    echo S-NOTFILE
  fi
}

# paths PATH...: existence by builtins (E index 0|1), then one stat (T)
# over the present paths and one sha256sum over the regular files among
# them, answered in argument order: two processes, whatever the number of
# paths. sha256sum's own lines are the reply (HEX64, with a leading
# backslash for odd names; reply.go reads only the hash), so no shell
# loop reads them.
paths() {
  i=0; n=$#
  for p do
    if [ -L "$p" ] || [ -e "$p" ]; then set -- "$@" "$p"; echo "E $i 1"; else echo "E $i 0"; fi
    i=$((i + 1))
  done
  shift "$n"
  if [ $# -gt 0 ]; then stat -c 'T %F|%s|%a|%U|%G' -- "$@"; fi
  n=$#
  for p do if [ -f "$p" ] && [ ! -L "$p" ]; then set -- "$@" "$p"; fi; done
  shift "$n"
  if [ $# -gt 0 ]; then
    sha256sum -- "$@"
  fi
}

# reverts STATEDIR: "F revert armed" when a push that must come back
# awaits its confirmation here, or was never confirmed (comeback.sh): the
# next push is refused, or reverts it first.
reverts() {
  for r in "$1"/comeback/*; do
    case $r in *.ok) continue ;; esac
    if [ -d "$r" ]; then echo "F revert armed"; return 0; fi
  done
}

finish() { echo END; }
