#!/bin/sh
# The wrapper every worker runs in (started by src/process/spawn.ts, never by hand):
#
#   /bin/sh worker-shim.sh WORKER_ID RUN_ID EXIT_FILE -- COMMAND [ARG...]
#
# - Its argv carries the worker id, so `ps aux | grep WORKER_ID` finds the worker even when
#   the worker type's command does not name it. It costs one small sh process per worker.
# - It runs COMMAND as its child, in its own process group (the spawner made this shell the
#   group leader), and forwards TERM and HUP to it. INT is forwarded as TERM: POSIX shells
#   start an asynchronous command with SIGINT ignored, so an INT would never reach it.
# - When the child ends it writes EXIT_FILE atomically (temp file + rename) as one JSON line
#   {"worker_id":"…","run_id":"…","status":N}, N being the shell's status (128+signal when
#   the child was killed by a signal), then exits with N. So how a run ended is on disk even
#   when no daemon watches. A SIGKILL to this shell itself leaves no record: whoever sent it
#   (src/process/terminate.ts) records the outcome instead.
# Data is never interpolated into a shell string: the command runs as "$@".

if [ "$#" -lt 5 ] || [ "$4" != "--" ]; then
  echo "usage: worker-shim.sh WORKER_ID RUN_ID EXIT_FILE -- COMMAND [ARG...]" >&2
  exit 64
fi
worker_id=$1
run_id=$2
exit_file=$3
shift 4

# The traps are set only after the fork: a child forked while this shell catches a signal would
# swallow that signal until it resets the inherited traps just before its exec. Before the traps, a
# signal to the group ends this shell and the child alike, by default action.
"$@" &
child=$!
interrupted=0
forward() {
  interrupted=1
  kill "-$1" "$child" 2>/dev/null
}
trap 'forward TERM' TERM
trap 'forward HUP' HUP
trap 'forward TERM' INT

# A trapped signal interrupts `wait` (status > 128) while the child lives on: wait again.
# If the child had already been reaped, the second wait answers 127; keep the status we had.
status=
while :; do
  interrupted=0
  wait "$child"
  s=$?
  if [ "$s" -eq 127 ] && [ -n "$status" ]; then break; fi
  status=$s
  [ "$interrupted" = 1 ] || break
done

# The temp name is guessable by the worker ($PPID is this shell): remove whatever it planted there, and
# with noclobber (O_EXCL) never write through a link planted after that. (The test is a builtin: `rm`
# runs only when something is there, which saves a fork, about 8 ms, on every worker's end.)
tmp="$exit_file.tmp.$$"
if [ -e "$tmp" ] || [ -L "$tmp" ]; then rm -f "$tmp"; fi
set -C
if printf '{"worker_id":"%s","run_id":"%s","status":%d}\n' "$worker_id" "$run_id" "$status" >"$tmp"; then
  mv -f "$tmp" "$exit_file" || rm -f "$tmp"
else
  rm -f "$tmp"
fi
exit "$status"
