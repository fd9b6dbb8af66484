# shellcheck shell=sh
# prepare.sh: a push prepared ahead of a maintenance window. The host keeps
# the apply program — the same one a live push runs, fingerprint checks
# first — in STATEDIR/prepared/PLAN.sh (root only), and a detached waiter
# runs it at the window's start by the host's own clock, writing its
# reply lines to PLAN.out for the controller to collect. Replies:
#   PREPARED ok PID | PREPARED timer | PREPARED fail REASON     (prepare)
#   P PLAN done [AT]|waiting|lost, then PLAN.out's lines, then P-END   (collect;
#   AT: when the waiter began, in seconds since 1970 by the host's clock)

# The waiter is fixed code; its data arrive as positional arguments
# (program, sha256, start time, base name), never as code.
# shellcheck disable=SC2016 # expanded by the waiter's sh, on purpose
WAITER='f=$1 want=$2 at=$3 base=$4
stop() { kill "$s" 2> /dev/null; exit 0; }; trap stop TERM
now=$(date +%s)
if [ "$at" -gt "$now" ]; then sleep $((at - now)) & s=$!; wait "$s"; fi
trap - TERM
date +%s > "$base.at"
got=$(sha256sum -- "$f" 2> /dev/null); got=${got%% *}
if [ "$got" != "$want" ]; then echo "STALE tampered" > "$base.out.tmp"
else sh "$f" > "$base.out.tmp" 2> /dev/null; fi
mv -f -- "$base.out.tmp" "$base.out"; rm -f -- "$base.pid"'

# waiting PID PROGRAM: PID is still the waiter of PROGRAM. After a reboot
# the pid may be another process's (never signalled), and a waiter killed
# but not yet reaped is a zombie: dead. Without procfs, kill -0 decides.
waiting() {
  if [ "$1" = timer ]; then
    u=${2##*/}; u=$(unit "${u%.sh}")
    systemctl is-active --quiet "$u.timer" "$u.service" 2> /dev/null; return
  fi
  case $1 in *[!0-9]* | '') return 1;; esac
  if [ -d /proc/self ]; then
    s=$(cat "/proc/$1/stat" 2> /dev/null) || return 1
    case ${s##*) } in Z* | X*) return 1;; esac
    tr '\000' '\n' < "/proc/$1/cmdline" 2> /dev/null | grep -qxF -- "$2"
  else
    kill -0 "$1" 2> /dev/null
  fi
}

# disarm STATEDIR PLAN: stop a plan's waiter and remove what was
# prepared. A plain kill of the waiter's pid: its TERM trap ends the sleep
# it waits in, so no process-group kill (kill -- -PGID, which not every
# sh's kill takes) is needed. Once it applies it no longer traps TERM; the
# apply program ignores signals and finishes (apply.sh).
disarm() {
  b="$1/prepared/$2"
  if [ -f "$b.pid" ]; then
    read -r wp < "$b.pid"
    if [ "$wp" = timer ]; then systemctl stop "$(unit "$2").timer" 2> /dev/null
    elif waiting "$wp" "$b.sh"; then kill "$wp" 2> /dev/null; fi
  fi
  rm -f -- "$b.sh" "$b.pid" "$b.out" "$b.out.tmp" "$b.at"
}

# use_timer COMM RUNDIR: arm with a transient systemd timer, not a
# detached waiter? Only where systemd is PID 1 (COMM, /proc/1/comm, says
# systemd), booted the host (RUNDIR, /run/systemd/system, exists: the
# check sd_booted makes) and systemd-run and systemctl are there.
use_timer() {
  c=$(cat -- "$1" 2> /dev/null) || return 1
  [ "$c" = systemd ] && [ -d "$2" ] && command -v systemd-run > /dev/null 2>&1 && command -v systemctl > /dev/null 2>&1
}

# unit PLAN: the transient units' name.
unit() { echo "discoterm-prepared-$1"; }

# arm_timer STATEDIR PLAN SHA256 START CALENDAR: a transient timer that
# runs the waiter (which then has nothing to wait for) at CALENDAR, to the
# second; --collect unloads the units once it ran, even when it failed.
arm_timer() {
  systemd-run --quiet --collect --unit="$(unit "$2")" --on-calendar="$5" --timer-property=AccuracySec=1s \
    sh -c "$(sdarg "$WAITER")" waiter "$(sdarg "$1/prepared/$2.sh")" "$3" "$4" "$(sdarg "$1/prepared/$2")" < /dev/null > /dev/null 2>&1
}

# sdarg TEXT: TEXT as an argument that reaches the command systemd-run
# starts unchanged. The manager expands $VAR and ${VAR} in ExecStart=,
# transient units' too (the waiter's ${got%% *} became empty: every
# prepared push was "tampered"), and turns $$ into $: double every $.
sdarg() { printf '%s\n' "$1" | sed 's/\$/$$/g'; }

# prepare STATEDIR PLAN SHA256 START CALENDAR PROGRAM
prepare() {
  pd="$1/prepared"; f="$pd/$2.sh"
  { mkdir -p -- "$pd" && chmod 700 -- "$pd"; } || { echo "PREPARED fail mkdir"; exit 0; }
  disarm "$1" "$2"
  umask 077
  { printf '%s' "$6" > "$f.tmp" && sync -- "$f.tmp" && mv -f -- "$f.tmp" "$f"; } || { rm -f -- "$f.tmp"; echo "PREPARED fail write"; exit 0; }
  got=$(sha256sum -- "$f"); got=${got%% *}
  if [ "$got" != "$3" ]; then rm -f -- "$f"; echo "PREPARED fail hash"; exit 0; fi
  if use_timer /proc/1/comm /run/systemd/system; then
    echo timer > "$pd/$2.pid"
    if arm_timer "$@"; then echo "PREPARED timer"; else rm -f -- "$f" "$pd/$2.pid"; echo "PREPARED fail timer"; fi
    exit 0
  fi
  setsid sh -c "$WAITER" waiter "$f" "$3" "$4" "$pd/$2" < /dev/null > /dev/null 2>&1 &
  echo "$!" > "$pd/$2.pid"
  echo "PREPARED ok $!"
}

# collect STATEDIR: every prepared plan, with what its waiter recorded.
collect() {
  pd="$1/prepared"
  for f in "$pd"/*.sh; do
    [ -f "$f" ] || continue
    p=${f##*/}; p=${p%.sh}; b="$pd/$p"
    if [ -f "$b.out" ]; then
      at=; [ -f "$b.at" ] && read -r at < "$b.at"
      case $at in *[!0-9]* | '') echo "P $p done";; *) echo "P $p done $at";; esac
      while IFS= read -r l || [ -n "$l" ]; do printf '%s\n' "$l"; done < "$b.out"
    else
      st=lost
      if [ -f "$b.pid" ]; then read -r wp < "$b.pid"; if waiting "$wp" "$f"; then st=waiting; fi; fi
      echo "P $p $st"
    fi
    echo P-END
  done
  echo END
}

# forget STATEDIR PLAN: the controller stored the results: drop the copy.
forget() { disarm "$1" "$2"; echo END; }
