# shellcheck shell=sh
# comeback.sh: push --must-come-back on the host. Before an entry changes
# a path, apply keeps what was there (content, mode, owner, or absence) in
# STATEDIR/saved/SEQ/ (root only; kept after the push: undo reads it), and
# a record of the push in STATEDIR/comeback/TOKEN/ (the state file as it
# was, and which saved copies are the push's). At the end it arms the
# reverter: unless a confirm (confirm.sh, over a fresh SSH connection)
# renames the record away within D seconds, the reverter renames it to
# TOKEN.rev, puts every saved copy back (newest first, each atomically)
# and the old state file, so the host's position steps back.
#
# A saved copy of path number I of an entry: I.path (the path), I.meta
# ("file MODE UID GID USER GROUP", "dir MODE UID GID USER GROUP", "link",
# "absent" or "other") and I.data (a file's content, a link's target).
#
# The record's claim is a rename, so a confirm and the reverter cannot both
# win. While a record is armed, or being reverted, no other push may start
# on the host (its revert would undo that push's state too): begin answers
# STALE armed. A record whose reverter died (a crash, a reboot) is
# reverted by the next push's begin, which then answers STALE reverted:
# reverting again after a crash half way is harmless (every restore
# writes the saved copy whole; the state file goes back last).

# The reverter is fixed code; its data arrive as positional arguments:
# WAIT (seconds to sleep first), STATEDIR, TOKEN, CLAIMED (1: the caller
# renamed the record already and holds the host lock). It ignores hangups:
# it outlives the SSH session that armed it.
# shellcheck disable=SC2016 # expanded by the reverter's sh, on purpose
REVERTER='trap "" HUP INT PIPE
w=$1 sd=$2 tok=$3 claimed=$4
NL="
"
r="$sd/comeback/$tok"; v="$r.rev"; l="$sd/.lock"; mine=
[ "$w" -gt 0 ] 2> /dev/null && sleep "$w"
if [ "$claimed" != 1 ]; then
read -r ps < "/proc/$$/stat"; ps=${ps##*) }; set -f; set -- $ps; set +f
echo "$$ ${20}" > "$r/pid.tmp" 2> /dev/null && mv -f -- "$r/pid.tmp" "$r/pid" 2> /dev/null
mv -T -- "$r" "$v" 2> /dev/null || exit 0
while :; do
if ( set -C; echo "$$ ${20}" > "$l" ) 2> /dev/null; then mine=1; break; fi
op=; read -r op _ < "$l" 2> /dev/null
case $op in "" | *[!0-9]*) op= ;; esac
if [ -n "$op" ] && ! kill -0 "$op" 2> /dev/null; then rm -f -- "$l"; continue; fi
sleep 1
done
fi
[ -d "$v" ] || exit 0
log="$r.reverted.tmp"; : > "$log"
rp() {
p=$(cat -- "$1/$2.path"; echo x); p=${p%x}
k=; mo=; u=; g=; read -r k mo u g _ < "$1/$2.meta"
d=${p%/*}; [ -n "$d" ] || d=/
t="$d/.discoterm.rev.$$"
case $k in
file)
[ -d "$d" ] || mkdir -p -- "$d"
if [ -d "$p" ] && [ ! -L "$p" ]; then rmdir -- "$p" 2> /dev/null; fi
rm -f -- "$t"
{ cp -- "$1/$2.data" "$t" && chown -h -- "$u:$g" "$t" && chmod -- "$mo" "$t" && sync -- "$t" && mv -fT -- "$t" "$p"; } 2> /dev/null || { rm -f -- "$t"; printf "failed %s\n" "$p" >> "$log"; return 0; } ;;
link)
tg=$(cat -- "$1/$2.data"; echo x); tg=${tg%x}; tg=${tg%"$NL"}
rm -f -- "$t"
{ ln -s -- "$tg" "$t" && mv -fT -- "$t" "$p"; } 2> /dev/null || { rm -f -- "$t"; printf "failed %s\n" "$p" >> "$log"; return 0; } ;;
dir)
{ { [ -d "$p" ] || mkdir -p -- "$p"; } && chown -h -- "$u:$g" "$p" && chmod -- "$mo" "$p"; } 2> /dev/null || { printf "failed %s\n" "$p" >> "$log"; return 0; } ;;
absent)
if [ -d "$p" ] && [ ! -L "$p" ]; then rmdir -- "$p" 2> /dev/null || { printf "left %s (a directory that is not empty)\n" "$p" >> "$log"; return 0; }
else rm -f -- "$p"; fi ;;
*) printf "left %s (not a file, link or directory)\n" "$p" >> "$log"; return 0 ;;
esac
printf "restored %s\n" "$p" >> "$log"
}
items=
while read -r kind q; do
case $q in "" | *[!0-9]*) continue ;; esac
if [ "$kind" = r ]; then items="$v/r$q$NL$items"; else items="$sd/saved/$q$NL$items"; fi
done < "$v/items"
oifs=$IFS; IFS=$NL; set -f
for dd in $items; do
IFS=$oifs
n=0; while [ -f "$dd/$n.meta" ]; do n=$((n + 1)); done
while [ "$n" -gt 0 ]; do n=$((n - 1)); rp "$dd" "$n"; done
IFS=$NL
done
IFS=$oifs; set +f
if [ -f "$v/state" ]; then cp -- "$v/state" "$sd/.state.rev" && sync -- "$sd/.state.rev" && mv -f -- "$sd/.state.rev" "$sd/state"
else rm -f -- "$sd/state"; fi
date +%s >> "$log"; mv -f -- "$log" "$r.reverted"
rm -rf -- "$v"
[ -z "$mine" ] || rm -f -- "$l"'

# keep TOKEN SECONDS: this push must come back within SECONDS: start its
# record (the state file as it is now) before anything changes.
keep() {
  KR="$SD/comeback/$1"; KD=$2
  umask 077
  if ! { mkdir -p -- "$SD/saved" "$KR" && chmod 700 -- "$SD/saved" "$SD/comeback" && : > "$KR/items"; }; then
    umask 022; rm -rf -- "$KR"; echo "STALE keep"; exit 0
  fi
  if [ -f "$ST" ] && ! cp -- "$ST" "$KR/state"; then umask 022; rm -rf -- "$KR"; echo "STALE keep"; exit 0; fi
  # The reverter's code stays with the record: a later push that finds
  # the record orphaned (pending.sh) runs it without carrying it.
  printf '%s\n' "$REVERTER" > "$KR/reverter.sh" || { umask 022; rm -rf -- "$KR"; echo "STALE keep"; exit 0; }
  umask 022
}

# save r|s|x SEQ PATH...: keep what PATH... hold now, before entry SEQ
# changes them (r: a drift repair, kept with the push's record, not as
# the entry's saved copy, which undo reads; x: an exec's paths). Fails the
# entry, with nothing changed, when the copy cannot be made. A path whose
# directory a user other than root can change is not read (it could be
# swapped for a symlink to a secret between the check and the copy, and
# the revert would write the secret there): a file entry there is refused
# (prep would refuse it too), an exec's path there is not kept.
save() {
  sk=$1; sq=$2; shift 2
  if [ "$sk" = r ]; then sdd="$KR/r$sq"; else sdd="$SD/saved/$sq"; fi
  st="$SD/saved/.tmp.$$"
  umask 077
  rm -rf -- "$st"; mkdir -- "$st" || savefail "$sq" "$1"
  i=0
  for sp in "$@"; do
    sd0=${sp%/*}; [ -n "$sd0" ] || sd0=/
    if [ -d "$sd0" ] && ! rootdir "$sd0"; then
      [ "$sk" = x ] && continue
      savefail "$sq" "$sp"
    fi
    printf '%s' "$sp" > "$st/$i.path" || savefail "$sq" "$sp"
    if [ -L "$sp" ]; then
      { readlink -- "$sp" > "$st/$i.data" && echo link > "$st/$i.meta"; } || savefail "$sq" "$sp"
    elif [ -f "$sp" ]; then
      { cp -- "$sp" "$st/$i.data" && stat -c 'file %a %u %g %U %G' -- "$sp" > "$st/$i.meta"; } 2>> "$out" || savefail "$sq" "$sp"
    elif [ -d "$sp" ]; then
      stat -c 'dir %a %u %g %U %G' -- "$sp" > "$st/$i.meta" 2>> "$out" || savefail "$sq" "$sp"
    elif [ -e "$sp" ]; then echo other > "$st/$i.meta"
    else echo absent > "$st/$i.meta"; fi
    i=$((i + 1))
  done
  [ "$sk" = x ] && sk=s
  { rm -rf -- "$sdd" && mv -T -- "$st" "$sdd" && printf '%s %s\n' "$sk" "$sq" >> "$KR/items"; } 2>> "$out" || savefail "$sq" "$1"
  umask 022
}

savefail() {
  umask 022; rm -rf -- "$st"
  printf 'cannot keep a copy of %s for --must-come-back; nothing of this entry was applied\n' "$2" >> "$out"
  emit "$1" failed 1 "$s"; unrun; fail
}

# sdarg TEXT: TEXT as an argument that reaches the command systemd-run
# starts unchanged: the manager expands $VAR and ${VAR} in ExecStart=
# (transient units' too) and turns $$ into $, so every $ is doubled.
sdarg() { printf '%s\n' "$1" | sed 's/\$/$$/g'; }

# arm: the push is over: arm the reverter (nothing to revert: drop the
# record) and say so (ARMED SECONDS).
arm() {
  [ -n "$KR" ] || return 0
  ar=$KR; KR=
  if ! [ -s "$ar/items" ]; then rm -rf -- "$ar"; return 0; fi
  # Copies kept for entries that did not apply (the run failed) are only
  # the revert's: undo must not take them for what those entries
  # overwrote when they apply later.
  ni=
  while read -r ak aq; do
    if [ "$ak" = s ] && [ "$aq" -gt "$POS" ] && mv -T -- "$SD/saved/$aq" "$ar/r$aq" 2> /dev/null; then ak=r; fi
    ni="$ni$ak $aq$NL"
  done < "$ar/items"
  printf '%s' "$ni" > "$ar/items"
  dl=$(date +%s); echo $((dl + KD)) > "$ar/armed"
  tok=${ar##*/}; p1=; m1=; m0=
  read -r p1 < /proc/1/comm 2> /dev/null
  if [ "$p1" = systemd ]; then m1=$(readlink /proc/1/ns/mnt 2> /dev/null); m0=$(readlink /proc/self/ns/mnt 2> /dev/null); fi
  # systemd as PID 1 of our own mount namespace: a transient timer, so the
  # revert is not killed with the SSH login's cgroup.
  if [ -n "$m1" ] && [ "$m1" = "$m0" ] && command -v systemd-run > /dev/null 2>&1 &&
    systemd-run --quiet --unit "discoterm-revert-$tok" --on-active="${KD}s" --timer-property=AccuracySec=1s \
      /bin/sh -c "$(sdarg "$REVERTER")" reverter 0 "$(sdarg "$SD")" "$tok" 0 > /dev/null 2>&1; then
    echo systemd > "$ar/how"
  else
    setsid sh -c "$REVERTER" reverter "$KD" "$SD" "$tok" 0 < /dev/null > /dev/null 2>&1 &
    rp=$!
    if pstart "$rp"; then echo "$rp $PSTART" > "$ar/pid"; fi
  fi
  echo "ARMED $KD"
}
