# shellcheck shell=sh
# prepare.sh: a push prepared ahead of a maintenance window. The host keeps
# the apply program — the same one a live push runs, fingerprint checks
# first — in STATEDIR/prepared/PLAN.sh (root only), and a detached waiter
# runs it at the window's start by the host's own clock, writing its
# reply lines to PLAN.out for the controller to collect. Where systemd is
# PID 1, a timer does instead: unit files in /etc/systemd/system, so a
# reboot before the window does not disarm it. Replies:
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
got=$(sha256sum 2> /dev/null < "$f"); got=${got%% *}
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
  drop_units "$2"
  rm -f -- "$b.sh" "$b.pid" "$b.out" "$b.out.tmp" "$b.at" "$b.wait"
}

# use_timer COMM RUNDIR: arm with a systemd timer, not a
# detached waiter? Only where systemd is PID 1 (COMM, /proc/1/comm, says
# systemd), booted the host (RUNDIR, /run/systemd/system, exists: the
# check sd_booted makes) and systemd-run and systemctl are there.
use_timer() {
  c=$(cat -- "$1" 2> /dev/null) || return 1
  [ "$c" = systemd ] && [ -d "$2" ] && command -v systemd-run > /dev/null 2>&1 && command -v systemctl > /dev/null 2>&1
}

# unit PLAN: the units' name.
unit() { echo "discoterm-prepared-$1"; }

# SDUNITS: where a systemd host keeps a prepared push's timer and service,
# as unit files (not transient units, which live in /run): the timer is
# enabled under timers.target and so armed again after a reboot.
SDUNITS=/etc/systemd/system

# The timer's service runs PLAN.wait: the waiter (which then has nothing
# to wait for), then this, which deletes the plan's unit files. Its data
# are arguments 5 and 6 (unit name, unit directory). No daemon-reload
# here: one while the service runs leaves its timer "not-found active
# running" for good (seen on systemd 252); drop_units reloads at collect.
# shellcheck disable=SC2016 # expanded by the service's sh, on purpose
SDCLEAN='u=$5 d=$6
rm -f -- "$d/timers.target.wants/$u.timer" "$d/$u.timer" "$d/$u.service" "$0"'

# uq TEXT: TEXT as one double-quoted word of a unit file's ExecStart=.
# systemd unescapes \\ and \" there, expands %-specifiers (%% is %) and
# $VAR (unit files too: $$ is $). TEXT has no newline (arm_timer checks).
uq() { printf '"%s"' "$(printf '%s\n' "$1" | sed -e 's/[\\"]/\\&/g' -e 's/%/%%/g' -e 's/\$/$$/g')"; }

# arm_timer STATEDIR PLAN SHA256 START CALENDAR: unit files for a timer
# at CALENDAR, to the second, and its service. Persistent=false: a host
# that was off at the window's start does not apply late when it boots
# (collect then reports it lost). RemainAfterElapse=no: once fired, the
# timer is done.
arm_timer() {
  u=$(unit "$2"); b="$1/prepared/$2"; d=$SDUNITS
  case $b$d in *"
"*) return 1;; esac
  printf '%s\n%s\n' "$WAITER" "$SDCLEAN" > "$b.wait" || return 1
  mkdir -p -- "$d/timers.target.wants" || return 1
  (
    umask 022
    printf '[Unit]\nDescription=discoterm prepared push %s\n\n[Service]\nExecStart=/bin/sh %s %s %s %s %s %s %s\n' \
      "$2" "$(uq "$b.wait")" "$(uq "$b.sh")" "$3" "$4" "$(uq "$b")" "$u" "$(uq "$d")" > "$d/$u.service.tmp" &&
      printf '[Unit]\nDescription=discoterm prepared push %s\n\n[Timer]\nOnCalendar=%s\nAccuracySec=1s\nPersistent=false\nRemainAfterElapse=no\n\n[Install]\nWantedBy=timers.target\n' \
        "$2" "$5" > "$d/$u.timer.tmp" &&
      chmod 644 -- "$d/$u.service.tmp" "$d/$u.timer.tmp" &&
      mv -f -- "$d/$u.service.tmp" "$d/$u.service" && mv -f -- "$d/$u.timer.tmp" "$d/$u.timer" &&
      ln -sf -- "../$u.timer" "$d/timers.target.wants/$u.timer"
  ) || { rm -f -- "$d/$u.service.tmp" "$d/$u.timer.tmp"; drop_units "$2"; return 1; }
  systemctl daemon-reload > /dev/null 2>&1 && systemctl start "$u.timer" < /dev/null > /dev/null 2>&1
}

# drop_units PLAN: disable and delete the plan's unit files, if any, and
# have systemd forget the units (files already deleted by the run: the
# units stay loaded, dead, until a reload). The reload waits for the
# service to end (its last moments, after PLAN.out; see SDCLEAN).
drop_units() {
  u=$(unit "$1"); d=$SDUNITS
  if [ -e "$d/$u.timer" ] || [ -e "$d/$u.service" ] || [ -L "$d/timers.target.wants/$u.timer" ]; then
    rm -f -- "$d/timers.target.wants/$u.timer" "$d/$u.timer" "$d/$u.service"
  elif ! use_timer /proc/1/comm /run/systemd/system ||
    ! systemctl list-units --all --plain --no-legend "$u.timer" "$u.service" 2> /dev/null | grep -q .; then
    return 0
  fi
  i=0
  while [ "$i" -lt 50 ] && systemctl is-active --quiet "$u.service" 2> /dev/null; do sleep 0.2; i=$((i + 1)); done
  systemctl daemon-reload > /dev/null 2>&1 || :
}

# prepare STATEDIR PLAN SHA256 START CALENDAR PROGRAM
prepare() {
  pd="$1/prepared"; f="$pd/$2.sh"
  { mkdir -p -- "$pd" && chmod 700 -- "$pd"; } || { echo "PREPARED fail mkdir"; exit 0; }
  disarm "$1" "$2"
  umask 077
  { printf '%s' "$6" > "$f.tmp" && sync -- "$f.tmp" && mv -f -- "$f.tmp" "$f"; } || { rm -f -- "$f.tmp"; echo "PREPARED fail write"; exit 0; }
  # sha256sum of stdin: given a name with a backslash or newline, it
  # starts its line with a backslash (a state dir "a\b" was "fail hash").
  got=$(sha256sum < "$f"); got=${got%% *}
  if [ "$got" != "$3" ]; then rm -f -- "$f"; echo "PREPARED fail hash"; exit 0; fi
  if use_timer /proc/1/comm /run/systemd/system; then
    echo timer > "$pd/$2.pid"
    if arm_timer "$@"; then echo "PREPARED timer"; else disarm "$1" "$2"; echo "PREPARED fail timer"; fi
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
