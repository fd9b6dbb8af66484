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
# in wait4's rusage, which no builtin returns. Where the memory controller
# can be written (cgroup v2 at /sys/fs/cgroup with memory delegated, or a
# cgroup v1 memory hierarchy), each command runs in its own child cgroup
# and its peak is read (page cache it dirtied counts); anywhere else the
# peak is "-": not measured, never guessed (VmHWM sampling misses short
# peaks).

# cginit: once per program, CGP is the cgroup directory each command's
# own cgroup is made in ("" where that is not possible) and CGPEAK the
# file its peak is read from. cgroup v2 at /sys/fs/cgroup: the parent of
# the shell's cgroup, when it hands the memory controller to its children
# and can be written (memory.peak). Else a cgroup v1 memory hierarchy:
# the shell's own memory cgroup, when it can be written
# (memory.max_usage_in_bytes).
cginit() {
  [ -n "${CGI:-}" ] && return 0
  CGI=1; CGP=; cgr=; cg1=
  # mountinfo: ID PARENT DEV ROOT MOUNTPOINT OPTIONS [TAGS] - FSTYPE SOURCE
  # SUPEROPTIONS; the last mount at /sys/fs/cgroup is the one seen.
  while read -r _ _ _ _ mp rest; do
    case " $rest " in
      *" - cgroup "*) case ",${rest##* }," in *,memory,*) cg1=$mp;; esac ;;
    esac
    [ "$mp" = /sys/fs/cgroup ] || continue
    case " $rest " in *" - cgroup2 "*) cgr=/sys/fs/cgroup;; *) cgr=;; esac
  done < /proc/self/mountinfo
  own=; own1=
  while IFS= read -r l; do
    case $l in
      0::/*) own=${l#0::} ;;
      *:memory:/* | *:memory,*:/* | *,memory:/* | *,memory,*:/*) own1=/${l#*:/} ;;
    esac
  done < /proc/self/cgroup
  if [ -n "$cgr" ]; then
    case $own in '' | *..*) return 0;; /) p=$cgr;; *) p=$cgr${own%/*};; esac
    sc=; read -r sc < "$p/cgroup.subtree_control" 2> /dev/null
    case " $sc " in *" memory "*) [ -w "$p" ] && CGP=$p CGPEAK=memory.peak;; esac
  elif [ -n "$cg1" ]; then
    case $own1 in '' | *..*) return 0;; /) p=$cg1;; *) p=$cg1$own1;; esac
    [ -w "$p" ] && [ -e "$p/memory.max_usage_in_bytes" ] && CGP=$p CGPEAK=memory.max_usage_in_bytes
  fi
  return 0
}

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

# usage0 SEQ: before the command; UCG is the command's own cgroup (or "").
usage0() {
  cginit; UCG=
  if [ -n "$CGP" ]; then UCG="$CGP/discoterm-$$-$1"; mkdir -- "$UCG" 2> /dev/null || UCG=; fi
  ustat; U0="$UU $UY $URC $UWC $URB $UWB"
}

# ucgjoin: in the command's subshell, before the command: move into its
# cgroup (writing 0 moves the writer). Failing that the cgroup stays
# empty: a peak of 0, reported as unknown.
ucgjoin() { if [ -n "$UCG" ]; then { echo 0 > "$UCG/cgroup.procs"; } 2> /dev/null; fi; return 0; }

# upeak: the command's peak memory in bytes into P, or -; its cgroup goes.
upeak() {
  P=-
  [ -n "$UCG" ] || return 0
  read -r P < "$UCG/$CGPEAK" 2> /dev/null || P=-
  case $P in '' | 0 | *[!0-9]*) P=-;; esac
  rmdir -- "$UCG" 2> /dev/null
  return 0
}

# udiff A B: B - A, or - when either is unknown.
udiff() { if [ "$1" = - ] || [ "$2" = - ]; then D=-; else D=$(($2 - $1)); fi; }

# usage1 SEQ: after the command: one M line.
usage1() {
  ustat; upeak
  # shellcheck disable=SC2086 # U0 is six numbers or dashes
  set -- "$1" $U0
  udiff "$2" "$UU"; a=$D; udiff "$3" "$UY"; b=$D
  udiff "$4" "$URC"; c=$D; udiff "$5" "$UWC"; d=$D; udiff "$6" "$URB"; e=$D; udiff "$7" "$UWB"
  echo "M $1 $a $b $c $d $e $D $P"
}
