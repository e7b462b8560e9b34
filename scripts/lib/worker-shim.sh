#!/bin/sh
# The wrapper every worker runs in (started by src/process/spawn.ts, never by hand):
#
#   /bin/sh worker-shim.sh WORKER_ID RUN_ID EXIT_FILE -- COMMAND [ARG...]
#
# - Its argv carries the worker id, so `ps aux | grep WORKER_ID` finds the worker even when
#   the worker type's command does not name it. It costs one small sh process per worker, plus the
#   log pipe's `split` (and a `cat` once the worker has written), which never name the worker.
# - It runs COMMAND as its child, in its own process group (the spawner made this shell the
#   group leader), and forwards TERM and HUP to it. INT is forwarded as TERM: POSIX shells
#   start an asynchronous command with SIGINT ignored, so an INT would never reach it.
# - When the child ends it writes EXIT_FILE atomically (temp file + rename) as one JSON line
#   {"worker_id":"…","run_id":"…","status":N}, N being the shell's status (128+signal when
#   the child was killed by a signal), then exits with N. So how a run ended is on disk even
#   when no daemon watches. A SIGKILL to this shell itself leaves no record: whoever sent it
#   (src/process/terminate.ts) records the outcome instead.
#   The rename is left to the spawner when COMMIT_RELAY_EXIT_REAPER (environment, removed before COMMAND runs) names
#   this shell's parent and that parent is still its parent at the end: the record stays at its temp name,
#   EXIT_FILE.tmp.PID, and the parent renames it as it reaps this shell (src/store/exits.ts settleExitRecord). That
#   saves a `mv`, a fork and an exec, on every end (a restart waits for it). A parent that dies before reaping it leaves
#   the record at its temp name, where every reader looks too (settleLeftExitRecord).
# - A standby (src/process/spawn.ts spawnStandby) is started ahead of a run as
#     /bin/sh worker-shim.sh --standby -- COMMAND [ARG...]
#   with the worker's environment, COMMIT_RELAY_STANDBY=1 and COMMIT_RELAY_EXIT_FILE, its stdin a pipe from the daemon
#   and fds 4 and 5 the read and write ends of a pipe of its own (the relay's). Its argv does not carry the worker id,
#   so `ps aux | grep WORKER_ID` (runbook A) finds only the run. It starts its split, and a relay:
#     /bin/sh worker-shim.sh --relay -- COMMAND [ARG...]
#   which forks the run's process at once. That process waits on the daemon's pipe for one line "go RESTART_COUNT",
#   says so to the standby (fd 5) and execs COMMAND: at "go", COMMAND starts with one exec and no fork. Meanwhile the
#   standby execs this script as above (the same process: its pid and start time, the run's identity, do not change;
#   its argv then carries the id), which supervises COMMAND through the relay: the signals it is sent go to the relay
#   (its child), which forwards them to COMMAND (its own child, whose status it reports on the pipe); then the exit
#   record as above. The standby forwards them to the relay too, once the relay says it is ready: a TERM before "go"
#   ends the relay's child with nothing run, after it the run. Only while the standby's exec of this script is under
#   way (a fraction of a millisecond after "go"), or before its relay is ready (a millisecond after the standby's
#   start), does a signal to its pid alone end it by default action: the daemon then finds the run's shim gone with no
#   record and stops what carries its token (before "go", a standby gone is let go, and nothing runs). Anything but "go", or
#   the end of the daemon's pipe (the daemon let it go, or died), ends all three at once with status 0 and no exit
#   record: nothing ran. A relay that ends without saying COMMAND's status (killed) ends the run's shim with status 1
#   and no record, as a shim killed itself would (whatever is left carries the run's token).
# Data is never interpolated into a shell string: the command runs as "$@".

# The supervision of COMMAND, by the shim proper and by a standby's relay ($child: COMMAND, this shell's own child; or,
# for a standby and the shim it becomes, the relay, which forwards to COMMAND in turn).
# - noted: a trapped signal noted: the wait it interrupted must go on, and whether $child was still there to be waited
#   for when it came (running, or ended and not reaped).
# - forward SIGNAL: noted, and SIGNAL sent on to $child while it is there to be signalled (emptied once reaped: never a
#   pid that may be another's by then).
# - forward_signals: TERM and HUP forwarded, INT as TERM (see above). Set only after the forks: a child forked while
#   this shell catches a signal would swallow that signal until it resets the inherited traps just before its exec;
#   before the traps, a signal to the group ends this shell and the child alike, by default action.
# - forward_to_relay: the same for a standby and the shim it becomes, to their relay as USR1 (TERM, INT) and USR2
#   (HUP): the relay forwards those to COMMAND, and takes no action of its own on a TERM, HUP or INT sent to the whole
#   group (COMMAND had it too), so COMMAND gets a group's TERM twice at most, as from a shim that is its parent.
# - wait_child: $child waited for, its status in $status. A trapped signal interrupts `wait` (status > 128) while the
#   child lives on: wait again, and take what that wait answers when the child was still there as the signal came
#   (127 is then its own code); else the first wait took its status, and a second one answers 127: keep the first.
noted() {
  interrupted=1
  if [ -n "$child" ] && [ -e "/proc/$child" ]; then there=1; fi
}
forward() {
  noted
  [ -z "$child" ] || kill "-$1" "$child" 2>/dev/null
}
forward_signals() {
  interrupted=0
  trap 'forward TERM' TERM
  trap 'forward HUP' HUP
  trap 'forward TERM' INT
}
forward_to_relay() {
  interrupted=0
  trap 'forward USR1' TERM
  trap 'forward USR2' HUP
  trap 'forward USR1' INT
}
# parent_now: this shell's parent now, in $parent (field 4 of /proc/$$/stat, after the command name's closing
# parenthesis; $$ is the shell's pid, a subshell's too), empty when it cannot be read. A builtin read: no process.
parent_now() {
  parent=
  { read -r _stat <"/proc/$$/stat"; } 2>/dev/null || return 0
  parent=${_stat##*) }
  parent=${parent#* }
  parent=${parent%% *}
}
wait_child() {
  status=
  there=
  while :; do
    interrupted=0
    wait "$child"
    s=$?
    if [ "$s" -eq 127 ] && [ -n "$status" ] && [ -z "$there" ]; then break; fi
    status=$s
    [ "$interrupted" = 1 ] || break
  done
  child=
}

# A shim told to go as a standby (see --standby below): COMMAND runs already, so from this shell's first lines the
# signals sent to it go on to its relay (its child, not reaped while it runs).
relayed=
case ${1:-} in
  --standby | --relay) ;;
  *)
    if [ -n "${COMMIT_RELAY_RELAY_PID:-}" ]; then
      case $COMMIT_RELAY_RELAY_PID in *[!0-9]*) exit 1 ;; esac
      child=$COMMIT_RELAY_RELAY_PID
      relayed=1
      unset COMMIT_RELAY_RELAY_PID
      forward_to_relay
    fi
    ;;
esac

# The log pipe (when the spawner passes COMMIT_RELAY_LOG_FILE and COMMIT_RELAY_LOG_MAX in the environment, never in
# argv): this shell's stdout and stderr are a pipe's write end and fd 3 its read end (src/process/log-pipe.ts). COMMAND
# writes into the pipe, drained by GNU `split -C MAX`, which cuts the stream at line ends into chunks of at most MAX
# bytes and hands each to the filter below. The filter moves output.log to output.log.1 (a rename: whatever is there,
# a link included, is replaced, never followed) unless it is the run's first chunk (x00: the suffixes widen to x9000
# and on, never x00 again, which appends to the output.log the run header began), then writes the chunk to a new
# output.log, created with noclobber (O_EXCL: a link the worker planted there after the rename is removed, never
# written through; after 20 such tries the chunk is dropped). A writer faster than the disk blocks on the pipe
# (back-pressure), so output.log never holds more than MAX bytes plus the run's first chunk and what the previous run
# left (the spawner rotates a log at or over MAX before the run header), output.log.1 never more than that either:
# output.log + output.log.1 < 4 x MAX at every moment. split and its filters are in this run's process group and carry
# its token (environment), so sweeps end them with the worker.
# The filter is a constant: the path and the cap reach it through the environment only ($LOG, $MAX).
log_filter='case $FILE in
x00)
  if [ -L "$LOG" ] || { [ -e "$LOG" ] && [ ! -f "$LOG" ]; }; then rm -f -- "$LOG"; fi
  exec cat >>"$LOG" ;;
esac
mv -fT -- "$LOG" "$LOG.1" 2>/dev/null
set -C
n=0
while [ "$n" -lt 20 ]; do
  cat >"$LOG" 2>/dev/null && exit 0
  n=$((n + 1))
  rm -f -- "$LOG"
done
exec cat >/dev/null'
# Starts split on fd 3 (the pipe's read end), as above; the path and the cap from the environment, removed from it.
start_split() {
  log_file=$COMMIT_RELAY_LOG_FILE
  log_max=$COMMIT_RELAY_LOG_MAX
  unset COMMIT_RELAY_LOG_FILE COMMIT_RELAY_LOG_MAX
  # split (and its filters) ignore TERM, HUP and INT: a stop signals the whole group, and what the worker prints as
  # it stops must still reach the log (a dead reader would also kill the worker with SIGPIPE). They end at the pipe's
  # end, when the worker and whatever it left holding the pipe are gone, or with SIGKILL. split holds no write end.
  (
    trap '' TERM HUP INT
    export LOG="$log_file" MAX="$log_max" SHELL=/bin/sh
    exec split --numeric-suffixes -C "$log_max" --filter="$log_filter" -
  ) <&3 3<&- 4<&- 5>&- >/dev/null 2>&1 &
  split_pid=$!
}

if [ "${1:-}" = --standby ]; then
  if [ "$#" -lt 3 ] || [ "$2" != "--" ] || [ -z "${WORKER_ID:-}" ] || [ -z "${COMMIT_RELAY_RUN_ID:-}" ] || [ -z "${COMMIT_RELAY_EXIT_FILE:-}" ] || ! { true <&4 && true >&5; } 2>/dev/null; then
    echo "usage: worker-shim.sh --standby -- COMMAND [ARG...] (with WORKER_ID, COMMIT_RELAY_RUN_ID, COMMIT_RELAY_EXIT_FILE, and the relay's pipe on fds 4 and 5)" >&2
    exit 64
  fi
  shift 2
  standby_exit_file=$COMMIT_RELAY_EXIT_FILE
  standby_reaper=${COMMIT_RELAY_EXIT_REAPER:-}
  unset COMMIT_RELAY_STANDBY COMMIT_RELAY_EXIT_FILE COMMIT_RELAY_EXIT_REAPER
  # Its split starts while it waits (off the restart's path); the shim proper it execs inherits it, by its pid.
  split_pid=
  if [ -n "${COMMIT_RELAY_LOG_FILE:-}" ] && [ -n "${COMMIT_RELAY_LOG_MAX:-}" ]; then
    start_split
    exec 3<&-
  fi
  # The relay gets the daemon's pipe as fd 6 (an asynchronous command's stdin is /dev/null), and holds the log pipe's
  # write end only until its fork has it: then only COMMAND holds it. It, and its child until "go", carry
  # COMMIT_RELAY_STANDBY=1: what runs nothing yet says so (COMMAND does not carry it).
  exec 6<&0
  COMMIT_RELAY_STANDBY=1 /bin/sh "$0" --relay -- "$@" 4<&- &
  relay=$!
  exec 5>&- 6<&- 0</dev/null >/dev/null 2>&1
  # Once the relay says it is ready (its traps set), a signal sent to this shell goes to it (then to its child: one
  # that has not gone yet ends, running nothing); before, it ends this shell, and the daemon lets the rest go.
  child=$relay
  ready=
  count=
  while [ -z "$ready" ] || [ -z "$count" ]; do
    interrupted=0
    if IFS= read -r line <&4; then
      case $line in
        ready)
          ready=1
          forward_to_relay
          ;;
        "go "*) count=${line#go } ;;
        *) exit 0 ;;
      esac
    elif [ "$interrupted" = 0 ]; then
      exit 0
    fi
  done
  case $count in *[!0-9]*) exit 0 ;; esac
  COMMIT_RELAY_RELAY_PID=$relay
  COMMIT_RELAY_RESTART_COUNT=$count
  export COMMIT_RELAY_RELAY_PID COMMIT_RELAY_RESTART_COUNT
  if [ -n "$split_pid" ]; then
    COMMIT_RELAY_SPLIT_PID=$split_pid
    export COMMIT_RELAY_SPLIT_PID
  fi
  if [ -n "$standby_reaper" ]; then
    COMMIT_RELAY_EXIT_REAPER=$standby_reaper
    export COMMIT_RELAY_EXIT_REAPER
  fi
  exec /bin/sh "$0" "$WORKER_ID" "$COMMIT_RELAY_RUN_ID" "$standby_exit_file" -- "$@" </dev/null
fi
# The relay (see --standby above): fd 6 the daemon's pipe, fd 5 the standby's. It forks the run's process, which waits
# for "go", says so and becomes COMMAND; the relay says it is ready once its traps are set, forwards to COMMAND the
# signals the standby (then the run's shim) passes on (USR1: TERM, USR2: HUP; a TERM, HUP or INT sent to the group
# reached COMMAND already: only noted), and says COMMAND's status once it ended (it is the relay's child).
if [ "${1:-}" = --relay ]; then
  if [ "$#" -lt 3 ] || [ "$2" != "--" ]; then
    echo "usage: worker-shim.sh --relay -- COMMAND [ARG...] (started by a standby, never by hand)" >&2
    exit 64
  fi
  shift 2
  (
    IFS= read -r go <&6 || exit 0
    count=${go#go }
    case $go in "go "*) ;; *) exit 0 ;; esac
    case $count in '' | *[!0-9]*) exit 0 ;; esac
    # The standby must be there to supervise the run: still the relay's parent ($$ is the relay's pid in this subshell,
    # $PPID the relay's parent when it started). One that died meanwhile (its end is being reported to the daemon) runs
    # nothing; the "go" written to it fails too once it is gone (no reader is left). One killed at this very instant
    # leaves a run whose shim is gone: the daemon stops it by its token, as any such run.
    parent_now
    [ "$parent" = "$PPID" ] || exit 0
    COMMIT_RELAY_RESTART_COUNT=$count
    export COMMIT_RELAY_RESTART_COUNT
    unset COMMIT_RELAY_STANDBY
    printf 'go %s\n' "$count" >&5 || exit 0
    exec "$@" </dev/null 5>&- 6<&-
  ) &
  child=$!
  exec 6<&- 0</dev/null >/dev/null 2>&1
  interrupted=0
  trap noted TERM HUP INT
  trap 'forward TERM' USR1
  trap 'forward HUP' USR2
  printf 'ready\n' >&5
  wait_child
  printf 'status %s\n' "$status" >&5
  exit 0
fi
if [ "$#" -lt 5 ] || [ "$4" != "--" ]; then
  echo "usage: worker-shim.sh WORKER_ID RUN_ID EXIT_FILE -- COMMAND [ARG...]" >&2
  exit 64
fi
# Whether a child of this shell is still running (builtins only: its /proc entry is there and not a zombie).
alive() {
  { read -r _stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  case ${_stat##*) } in Z*) return 1 ;; esac
  return 0
}
worker_id=$1
run_id=$2
exit_file=$3
shift 4
reaper=${COMMIT_RELAY_EXIT_REAPER:-}
unset COMMIT_RELAY_EXIT_REAPER

split_pid=
if [ -n "$relayed" ]; then
  # Told to go as a standby: COMMAND runs already, the relay's child (the relay reports its status on fd 4), and so does
  # its split, a child of this process (the same process before its exec).
  case ${COMMIT_RELAY_SPLIT_PID:-} in '' | *[!0-9]*) ;; *) split_pid=$COMMIT_RELAY_SPLIT_PID ;; esac
  unset COMMIT_RELAY_SPLIT_PID
  exec >/dev/null 2>&1
elif [ -n "${COMMIT_RELAY_LOG_FILE:-}" ] && [ -n "${COMMIT_RELAY_LOG_MAX:-}" ]; then
  # COMMAND first (it starts at once; what it writes waits in the pipe), without the read end.
  "$@" 3<&- &
  child=$!
  start_split
  # Only COMMAND (and its children) hold the write end now: split sees the pipe's end when they are gone.
  exec 3<&- >/dev/null 2>&1
else
  "$@" &
  child=$!
fi

# The traps, only after the forks (see forward_signals); a relayed shim's are set from its first lines.
[ -n "$relayed" ] || forward_signals
status=
if [ -n "$relayed" ]; then
  # COMMAND is the relay's child: its status comes from the relay. A trapped signal interrupts the read: read again.
  while :; do
    interrupted=0
    if IFS= read -r line <&4; then
      case $line in "status "*) status=${line#status } && break ;; esac
    elif [ "$interrupted" = 0 ]; then
      break
    fi
  done
  # The relay is ending (or gone): no more signals to it.
  child=
  case $status in '' | *[!0-9]*) exit 1 ;; esac
else
  wait_child
fi

# The last lines COMMAND wrote reach the log before the exit record: wait for split to drain the pipe and end,
# but for at most half a second (a grandchild still holding the pipe must not delay the record; split then ends with
# it, or with the run's group). First a few hundred builtin looks (about a millisecond or two: split usually ends
# within them, and a `sleep` costs a fork and an exec, several ms on a loaded machine); then a timer, one `sleep`
# killed when done, while a trapped CHLD interrupts `wait`.
if [ -n "$split_pid" ]; then
  looks=0
  while [ "$looks" -lt 300 ] && alive "$split_pid"; do looks=$((looks + 1)); done
  if alive "$split_pid"; then
    trap : CHLD
    sleep 0.5 &
    timer=$!
    # (The timer is waited for: a split inherited from a standby is no job of this shell, and any child's end interrupts.)
    while alive "$split_pid" && alive "$timer"; do wait "$timer"; done
    trap - CHLD
    { kill "$timer"; wait "$timer"; } 2>/dev/null
  fi
fi

# The temp name is guessable by the worker ($PPID is this shell): remove whatever it planted there, and
# with noclobber (O_EXCL) never write through a link planted after that. (The test is a builtin: `rm`
# runs only when something is there, which saves a fork, about 8 ms, on every worker's end.)
tmp="$exit_file.tmp.$$"
if [ -e "$tmp" ] || [ -L "$tmp" ]; then rm -f "$tmp"; fi
set -C
if printf '{"worker_id":"%s","run_id":"%s","status":%d}\n' "$worker_id" "$run_id" "$status" >"$tmp"; then
  # The reaper that said it would rename the record, still this shell's parent?
  parent=
  if [ -n "$reaper" ]; then parent_now; fi
  if [ -z "$parent" ] || [ "$parent" != "$reaper" ] || [ "$parent" = 1 ]; then
    mv -f "$tmp" "$exit_file" || rm -f "$tmp"
  fi
else
  rm -f "$tmp"
fi
exit "$status"
