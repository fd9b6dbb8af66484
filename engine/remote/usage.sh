# shellcheck shell=sh
# usage.sh: what one exec entry's command cost, by builtins only (no
# process: a fork costs more than most commands measured).
#
# The command runs in a subshell the apply program waits for. When a
# process is reaped, Linux adds its CPU times (cutime, cstime in
# /proc/PID/stat) and its IO counters (/proc/PID/io) to its parent's,
# its own reaped children's included. So the apply shell's counters read
# just before and just after the subshell differ by exactly what the
# command and everything it waited for used (plus the few hundred bytes
# these reads themselves count). Peak memory of a finished child is only
# in wait4's rusage, which no builtin returns: it is not measured.

# ustat: the shell's children's CPU (clock ticks, 100 per second) into
# UU UY, and its IO counters into URC UWC URB UWB ("-" without an io file).
ustat() {
  read -r l < /proc/self/stat
  l=${l##*) }
  set -f
  # shellcheck disable=SC2086 # split the fields, on purpose
  set -- $l
  set +f
  UU=${14}; UY=${15}
  URC=-; UWC=-; URB=-; UWB=-
  if [ -r /proc/self/io ]; then
    while read -r k v; do
      case $k in rchar:) URC=$v;; wchar:) UWC=$v;; read_bytes:) URB=$v;; write_bytes:) UWB=$v;; esac
    done < /proc/self/io
  fi
}

# usage0: before the command.
usage0() { ustat; U0="$UU $UY $URC $UWC $URB $UWB"; }

# udiff A B: B - A, or - when either is unknown.
udiff() { if [ "$1" = - ] || [ "$2" = - ]; then D=-; else D=$(($2 - $1)); fi; }

# usage1 SEQ: after the command: one M line.
usage1() {
  ustat
  # shellcheck disable=SC2086 # U0 is six numbers or dashes
  set -- "$1" $U0
  udiff "$2" "$UU"; a=$D; udiff "$3" "$UY"; b=$D
  udiff "$4" "$URC"; c=$D; udiff "$5" "$UWC"; d=$D; udiff "$6" "$URB"; e=$D; udiff "$7" "$UWB"
  echo "M $1 $a $b $c $d $e $D"
}
