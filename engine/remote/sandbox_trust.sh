# shellcheck shell=sh
# sandbox_trust.sh: what the sandbox itself runs inside a layer with its
# full capabilities must be the host's. An entry is started by `unshare
# --root LAYER … setpriv …`: unshare is the host's (started outside), but
# setpriv is started after the chroot, with every capability, and reads
# the layer's dynamic loader, libraries and /etc/ld.so.preload; so does
# the plain chroot's /bin/sh that places file entries before any command.
# A program planted there by an earlier entry would run with what reaches
# the host (a mount, /proc/1/root, raw devices). So setpriv (and unshare,
# for an unshare older than --root) is named by its host path, and before
# each start the upper layers so far are checked for a change to any of
# those: if there is one, nothing more runs (an S line says from which
# entry and why). Builtins only: no process.

# sb_tools: the host paths of setpriv and unshare, from PATH (absolute
# directories only), as a command lookup would find them.
sb_tools() {
  SB_SETPRIV=; SB_UNSHARE=
  set -f; IFS=:
  for d in $PATH; do
    case $d in /*) ;; *) continue ;; esac
    if [ -z "$SB_SETPRIV" ] && [ -f "$d/setpriv" ] && [ -x "$d/setpriv" ]; then SB_SETPRIV=$d/setpriv; fi
    if [ -z "$SB_UNSHARE" ] && [ -f "$d/unshare" ] && [ -x "$d/unshare" ]; then SB_UNSHARE=$d/unshare; fi
  done
  IFS=' 	
'
  set +f
}

# sb_trusted SEQ: stop at entry SEQ (an S line, then END) when an upper
# layer so far (0 to SB_K) changed one of the paths the privileged start
# reads: setpriv, unshare, /bin/sh, /etc/ld.so.preload, /etc/ld.so.cache
# or a parent of one, or in a library directory a shared object, a
# loader (ld-*) or a symlink.
sb_trusted() {
  SB_BAD=
  for p in "$SB_SETPRIV" "$SB_UNSHARE" /bin/sh /usr/bin/sh /etc/ld.so.preload /etc/ld.so.cache; do
    [ -n "$p" ] && sb_changed "$p" && { SB_BAD=$p; break; }
  done
  if [ -z "$SB_BAD" ]; then
    for d in /lib /lib32 /lib64 /libx32 /usr/lib /usr/lib32 /usr/lib64 /usr/libx32 /usr/local/lib /usr/local/lib64; do
      sb_libs "$d" && break
    done
  fi
  [ -n "$SB_BAD" ] || return 0
  printf 'S %s %s\n' "$1" "$(sb_b64 "$SB_BAD")"
  echo END; exit 0
}

# sb_uppers PATH: in SB_UPS, a line "UPPER MP" for each upper layer so
# far (0 to SB_K) of each overlay whose mount point MP ("" for /) holds
# PATH. (Mount points that need escaping are not overlaid: no spaces.)
sb_uppers() {
  SB_UPS=; i=0
  while [ "$i" -le "$SB_K" ]; do
    j=0
    for mp in $SB_MPLIST; do
      mp=${mp%/}
      case $1 in "$mp"/*) SB_UPS="$SB_UPS$T/u/$i/$j $mp$NL" ;; esac
      j=$((j + 1))
    done
    i=$((i + 1))
  done
}

# sb_changed PATH [parents]: whether an upper layer holds PATH (any
# type, a whiteout too) or has a parent of it that is not a plain
# directory (with "parents": only the latter).
sb_changed() {
  sb_uppers "$1"
  while read -r u mp; do
    [ -n "$u" ] || continue
    rel=${1#"$mp"/}; a=
    while :; do
      c=${rel%%/*}; a=$a/$c
      if [ "$c" = "$rel" ]; then
        [ -z "${2:-}" ] || break
        if [ -e "$u$a" ] || [ -L "$u$a" ]; then return 0; fi
        break
      fi
      if [ -L "$u$a" ] || { [ -e "$u$a" ] && [ ! -d "$u$a" ]; }; then return 0; fi
      [ -d "$u$a" ] || break
      rel=${rel#*/}
    done
  done <<EOF
$SB_UPS
EOF
  return 1
}

# sb_libs DIR: whether an upper layer holds under DIR a shared object, a
# loader or a symlink, or replaced DIR or a parent of it (SB_BAD names it).
sb_libs() {
  if sb_changed "$1" parents; then
    # A parent that is not a plain directory: a redirect.
    SB_BAD=$1; return 0
  fi
  sb_uppers "$1"
  while read -r u mp; do
    [ -n "$u" ] || continue
    q="$u/${1#"$mp"/}$NL"
    d=${q%"$NL"}
    # DIR itself replaced by a symlink, a file or a whiteout.
    if [ -L "$d" ] || { [ -e "$d" ] && [ ! -d "$d" ]; }; then SB_BAD=$1; return 0; fi
    while [ -n "$q" ]; do
      d=${q%%"$NL"*}; q=${q#*"$NL"}
      if [ ! -d "$d" ] || [ -L "$d" ]; then continue; fi
      for f in "$d"/* "$d"/.[!.]* "$d"/..?*; do
        [ -e "$f" ] || [ -L "$f" ] || continue
        case $f in *"$NL"*) SB_BAD=$1; return 0 ;; esac # not walkable in a list
        case ${f##*/} in
          *.so|*.so.*|ld-*) SB_BAD=$mp${f#"$u"}; return 0 ;;
        esac
        if [ -L "$f" ]; then SB_BAD=$mp${f#"$u"}; return 0; fi
        if [ -d "$f" ]; then q="$q$f$NL"; fi
      done
    done
  done <<EOF
$SB_UPS
EOF
  return 1
}
