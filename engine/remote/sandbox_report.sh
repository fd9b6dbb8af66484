# shellcheck shell=sh
# sandbox_report.sh: what a command changed in its layer of the sandbox
# (sandbox.sh), as B lines: the upper layer walked with builtins, then one
# stat and one cat per chunk of paths, the report's bytes after a line
# that says how many.

# sb_report SEQ: what the command of layer SB_K changed, as B lines: the
# upper layers walked with builtins, then per chunk of paths one stat and
# one cat (see sb_chunk). A directory the command replaced whole (an
# opaque one: rm -r then mkdir) hides everything under it in the lower
# layers: each of those paths is listed as deleted.
sb_report() {
  s=$1; k=$SB_K; SB_PREV=$T/r/$((k - 1)); SB_CUR=$T/r/$k
  SB_CH=; SB_CHN=0; SB_FIRST=1
  j=0
  for mp in $SB_MPLIST; do
    mp=${mp%/}
    q="U$T/u/$k/$j$NL"
    while [ -n "$q" ]; do
      d=${q%%"$NL"*}; q=${q#*"$NL"}
      kind=${d%"${d#?}"}; d=${d#?}
      for f in "$d"/* "$d"/.[!.]* "$d"/..?*; do
        [ -e "$f" ] || [ -L "$f" ] || continue
        case $f in *"$NL"*) continue ;; esac # not reportable in a list
        if [ "$kind" = U ]; then
          rel=${f#"$T/u/$k/$j/"}; p=$mp/$rel
        else
          # Under an opaque directory: only the lower layers had it,
          # unless the upper layer has its own (then that was walked).
          p=${f#"$SB_PREV"}; rel=${p#"$mp/"}
          if [ -e "$SB_CUR$p" ] || [ -L "$SB_CUR$p" ]; then continue; fi
        fi
        SB_CH="$SB_CH$kind$j $rel$NL"; SB_CHN=$((SB_CHN + 1))
        if [ -d "$f" ] && [ ! -L "$f" ]; then
          q="$q$kind$f$NL"
          b=$SB_PREV$p
          if [ "$kind" = U ] && [ -d "$b" ] && [ ! -L "$b" ] && sb_opaque "$f" "$b" "$SB_CUR$p"; then
            q="${q}D$b$NL"
          fi
        fi
        [ "$SB_CHN" -lt 200 ] || sb_chunk
      done
    done
    j=$((j + 1))
  done
  if [ "$SB_CHN" -gt 0 ] || { [ -n "$SB_FIRST" ] && [ -s "$T/out/o" ]; }; then sb_chunk; fi
}

# sb_opaque UPPER LOWER MERGED: whether the upper directory hides the
# lower one's entries: one that is in the lower layer only is absent from
# the merged view.
sb_opaque() {
  for e in "$2"/* "$2"/.[!.]* "$2"/..?*; do
    [ -e "$e" ] || [ -L "$e" ] || continue
    e=${e##*/}
    if [ -e "$1/$e" ] || [ -L "$1/$e" ]; then continue; fi
    [ -e "$3/$e" ] || [ -L "$3/$e" ] || return 0
    return 1
  done
  return 1
}

# sb_chunk: one B line for the paths listed in SB_CH (each "Uj rel",
# changed in the upper dir of overlay j, or "Dj rel", deleted under an
# opaque directory): one stat of every path after and before (before is
# the previous layer's merged view: what the command found), then
# NUL-separated fields: per path "P path seen statwords" with what
# follows: A SIZE / a (upper content / hash), T (upper symlink target),
# L SIZE / l, t (the same before); for the entry's output (first chunk)
# O SIZE; then D and the data those fields name, in order: targets
# (readlink -z), hashes (sha256sum lines), contents (cat, the output
# last), then END. The line "B SEQ LENGTH" comes before those bytes.
sb_chunk() {
  set -f; IFS=$NL
  set --
  if [ -n "$SB_FIRST" ]; then set -- "$T/out/o"; fi
  for l in $SB_CH; do
    kind=${l%"${l#?}"}; l=${l#?}; j=${l%% *}; rel=${l#* }
    eval "mp=\$SB_MP_$j"
    if [ "$kind" = U ]; then set -- "$@" "$T/u/$SB_K/$j/$rel"; fi
    b=$SB_PREV$mp/$rel
    if [ -e "$b" ] || [ -L "$b" ]; then set -- "$@" "$b"; fi
  done
  n=$#
  sts=$(LC_ALL=C stat -c '%f %a %U %G %s %t %T' -- "$@" 2> /dev/null)
  # shellcheck disable=SC2086
  set -- $sts
  IFS=' 	
'
  if [ $# -ne "$n" ]; then
    # A host file went away while the sandbox read it.
    printf 'B %s 5\n!\0END\n' "$s"
    SB_CH=; SB_CHN=0; SB_FIRST=; set +f; return
  fi
  recs=; links=; sums=; cats=; out=0; data=3
  if [ -n "$SB_FIRST" ]; then
    o=$1; shift
    # shellcheck disable=SC2086
    set -- $o "$@"
    out=$5; shift 7
    recs="O$NL$out$NL"
  fi
  rest=$SB_CH
  while [ -n "$rest" ]; do
    l=${rest%%"$NL"*}; rest=${rest#*"$NL"}
    kind=${l%"${l#?}"}; l=${l#?}; j=${l%% *}; rel=${l#* }
    eval "mp=\$SB_MP_$j"
    p=$mp/$rel; b=$SB_PREV$p
    seen=-; i=$((SB_K - 1))
    while [ "$i" -ge 0 ]; do
      if [ -e "$T/u/$i/$j/$rel" ] || [ -L "$T/u/$i/$j/$rel" ]; then seen=seen; break; fi
      i=$((i - 1))
    done
    if [ "$kind" = U ]; then u=$T/u/$SB_K/$j/$rel; a=$1; shift; else u=; a='2000 0 root root 0 0 0'; fi
    if [ -e "$b" ] || [ -L "$b" ]; then bs=$1; shift; else bs='- - - - - - -'; fi
    recs="${recs}P$NL$p$NL$seen$NL$a $bs$NL"
    # shellcheck disable=SC2086
    set -- $a $bs "$@"
    # Contents within the caps (an empty file needs no reading), else a
    # hash (sha256sum's line: 68 bytes); a symlink's target is as long as
    # its size.
    case $1 in
      8*) if [ "$5" -le "$SB_DIFFMAX" ] && [ "$5" -le "$SB_BUDGET" ]; then
            recs="${recs}A$NL$5$NL"; [ "$5" -eq 0 ] || cats="$cats$u$NL"; SB_BUDGET=$((SB_BUDGET - $5)); data=$((data + $5))
          else recs="${recs}a$NL"; sums="$sums$u$NL"; data=$((data + 68)); fi ;;
      a*) recs="${recs}T$NL"; links="$links$u$NL"; data=$((data + $5 + 1)) ;;
    esac
    case $8 in
      8*) if [ "${12}" -le "$SB_DIFFMAX" ] && [ "${12}" -le "$SB_BUDGET" ]; then
            recs="${recs}L$NL${12}$NL"; [ "${12}" -eq 0 ] || cats="$cats$b$NL"; SB_BUDGET=$((SB_BUDGET - ${12})); data=$((data + ${12}))
          else recs="${recs}l$NL"; sums="$sums$b$NL"; data=$((data + 68)); fi ;;
      a*) recs="${recs}t$NL"; links="$links$b$NL"; data=$((data + ${12} + 1)) ;;
    esac
    shift 14
  done
  head=
  if [ "$out" -gt "$SB_SHOW" ]; then head=$SB_SHOW; elif [ "$out" -gt 0 ]; then cats="$cats$T/out/o$NL"; fi
  data=$((data + ${head:-$out}))
  # Raw bytes after a line that says how many: the records' fields with
  # their NULs, then the data.
  IFS=$NL
  for f in $recs D; do data=$((data + ${#f} + 1)); done
  printf 'B %s %s\n' "$s" "$data"
  # shellcheck disable=SC2086
  printf '%s\0' $recs D
  # shellcheck disable=SC2086
  if [ -n "$links" ]; then LC_ALL=C readlink -z -- $links; fi
  for f in $sums; do LC_ALL=C sha256sum < "$f"; done
  # shellcheck disable=SC2086
  if [ -n "$cats" ]; then LC_ALL=C cat -- $cats; fi
  if [ -n "$head" ]; then LC_ALL=C head -c "$head" -- "$T/out/o"; fi
  printf 'END\n'
  IFS=' 	
'
  set +f
  SB_CH=; SB_CHN=0; SB_FIRST=
}
