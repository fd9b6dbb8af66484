# shellcheck shell=sh
# common.sh: shared by the programs that run operator commands (probe's
# guards, apply). Every host program is its .sh files, then only calls of
# their functions, each argument one single-quoted word (remote.quote),
# all inside one function definition followed by its call (shell.go).

# runenv NAME VALUE ... COMMAND: run COMMAND (shell code: an exec entry or
# its guard) in / with each NAME=VALUE pair exported, as ISconf passes
# classification variables. It uses no variables of its own, so no NAME
# can change what it runs. Call it in a subshell.
runenv() {
  # The program ignores signals (apply.sh); what it runs gets the default
  # dispositions back, as any command started from a login would.
  trap - TERM INT HUP PIPE
  while [ $# -ge 3 ]; do export "$1=$2"; shift 2; done
  cd / || return 1
  eval "shift; $1"
}
