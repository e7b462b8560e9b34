#!/bin/sh
# Records a worker's check-in (see --help). Agents call it often, so the common cases are decided here with
# shell builtins (one fork: the mv), exactly as the Node entry (dist/bin/checkin.js: src/bin/checkin.ts and
# src/worker/checkin.ts) decides them: the same record, the same one-line errors, the same exit codes (2 bad
# input, 3 no spec in active/, 1 I/O). Whatever the shell cannot decide exactly (--help, --version,
# --retry-at, a progress such as 1e1 or 05, a message with a control character, bytes that are not UTF-8
# or over 4000 bytes, a previous check-in it cannot read exactly, a failed write, ...) goes to Node,
# which decides it all again from the start.

case $0 in */*) relay_dir=${0%/*} ;; *) relay_dir=. ;; esac

# shellcheck source=scripts/lib/checkin.sh
. "$relay_dir/lib/checkin.sh"
fallback() {
  ck_exec_node "$relay_dir" checkin.js "$@"
}

LC_ALL=C
export LC_ALL
[ "$#" -eq 1 ] && [ "$1" = --version ] && fallback "$@"

die() {
  printf 'checkin: %s\n' "$2" >&2
  exit "$1"
}

# Flags as src/bin/checkin.ts parses them: --flag value or --flag=value, each at most once.
has_worker_id='' has_status='' has_progress='' has_message='' has_session_id='' expect=''
take() { # FLAG VARIABLE VALUE
  eval "[ -z \"\$has_$2\" ]" || die 2 "$1 given twice"
  eval "has_$2=1 $2=\$3"
}
for arg do
  if [ -n "$expect" ]; then
    case $expect in --worker-id) var=worker_id ;; --session-id) var=session_id ;; *) var=${expect#--} ;; esac
    take "$expect" "$var" "$arg"
    expect=
    continue
  fi
  case $arg in
    -h | --help | --retry-at | --retry-at=*) fallback "$@" ;;
    --worker-id | --status | --progress | --message | --session-id) expect=$arg ;;
    --worker-id=*) take --worker-id worker_id "${arg#*=}" ;;
    --status=*) take --status status "${arg#*=}" ;;
    --progress=*) take --progress progress "${arg#*=}" ;;
    --message=*) take --message message "${arg#*=}" ;;
    --session-id=*) take --session-id session_id "${arg#*=}" ;;
    *[![:print:]]*) fallback "$@" ;;
    *)
      ck_json_escape "$arg"
      die 2 "unknown argument \"$ck_escaped\" (see --help)"
      ;;
  esac
done
[ -z "$expect" ] || die 2 "$expect needs a value"

# Then as writeCheckin (src/worker/checkin.ts) checks, in its order.
own_id=${WORKER_ID:-}
if [ -n "$has_worker_id" ]; then
  worker=$worker_id
elif [ -n "$own_id" ]; then
  worker=$own_id
else
  die 2 'name the worker: --worker-id ID, or run inside a worker (WORKER_ID is set there)'
fi
case $worker$own_id in *[![:print:]]*) fallback "$@" ;; esac
ck_valid_id "$worker" || { ck_bad_id_message worker "$worker" && die 2 "$ck_bad_id"; }
if [ -n "$own_id" ] && [ "$worker" != "$own_id" ]; then
  die 2 "--worker-id \"$worker\" is not this worker (WORKER_ID is \"$own_id\"): a worker checks in only for itself"
fi
[ -n "$has_status" ] || status=in_progress
case $status in
  starting | in_progress | blocked | rate_limited | completed | failed) ;;
  *[![:print:]]*) fallback "$@" ;;
  *) die 2 "unknown --status \"$status\": use one of starting, in_progress, blocked, rate_limited, completed, failed" ;;
esac
# A --progress out of 0..100 in a plain decimal form (101, 100.5, -1, -0.5): Number() reads it so, and Node
# refuses it. Other forms (1e3, 05, 0x10, " 5") go to Node.
progress_out_of_range() {
  p=${1#-}
  case $p in '' | .* | *. | *[!0-9.]* | *.*.* | 0[0-9]*) return 1 ;; esac
  if [ "$p" != "$1" ]; then
    case $p in *[1-9]*) return 0 ;; *) return 1 ;; esac
  fi
  int=${p%%.*}
  [ "${#int}" -ge 3 ] || return 1
  [ "$int" = 100 ] || return 0
  case $p in *.*[1-9]*) return 0 ;; *) return 1 ;; esac
}
if [ -n "$has_progress" ] && ! ck_canonical_progress "$progress"; then
  progress_out_of_range "$progress" || fallback "$@"
  die 2 "--progress must be a number from 0 to 100, got \`$progress\`"
fi
message_json=null
if [ -n "$has_message" ]; then
  # Over 4000 bytes may still be 4000 characters (UTF-16 units) or fewer: Node counts.
  [ "${#message}" -le 4000 ] || fallback "$@"
  case $message in
    *[[:cntrl:]]*) fallback "$@" ;;
    *[![:print:]]*) ck_valid_utf8 "$message" || fallback "$@" ;;
  esac
  ck_json_escape "$message"
  message_json="\"$ck_escaped\""
fi
ck_resolve_home "$relay_dir" || fallback "$@"
home=$ck_home
coord=$home/coordination
[ -e "$coord/worker-specs/active/$worker.json" ] || die 3 "no worker \"$worker\" in $coord/worker-specs/active"
if [ -n "$has_session_id" ]; then
  case $session_id in *[![:print:]]*) fallback "$@" ;; esac
  if [ -z "$session_id" ] || [ "${#session_id}" -gt 200 ]; then die 2 '--session-id must be 1 to 200 printable characters'; fi
fi

file=$coord/worker-checkins/$worker.json
ck_read_previous "$file" || fallback "$@"
if [ -z "$has_progress" ]; then
  if [ "$status" = completed ]; then progress=100; else progress=${ck_prev_progress:-0}; fi
fi
run_id=${COMMIT_RELAY_RUN_ID:-}
run_json=null
if [ -n "$run_id" ]; then
  case $run_id in *[![:print:]]*) fallback "$@" ;; esac
  ck_json_escape "$run_id"
  run_json="\"$ck_escaped\""
fi
# The session the previous check-in of this run named is kept (the daemon may read only the latest check-in).
session_json=
if [ -n "$has_session_id" ]; then
  ck_json_escape "$session_id"
  session_json=",\"session_id\":\"$ck_escaped\""
elif [ -n "$run_id" ] && [ -n "$ck_prev_session" ] && [ "$ck_prev_run_id" = "$run_id" ]; then
  session_json=",\"session_id\":\"$ck_prev_session\""
fi
ck_now_or_date || fallback "$@"
[ -d "$coord/worker-checkins" ] || mkdir -p -- "$coord/worker-checkins" 2>/dev/null || fallback "$@"
ck_write_atomic "$file" "{\"worker_id\":\"$worker\",\"timestamp\":\"$ck_now\",\"status\":\"$status\",\"progress_pct\":$progress,\"message\":$message_json,\"run_id\":$run_json$session_json}" || fallback "$@"
