#!/bin/sh
# Queues a task (or, with --from-file, many): see --help. The common case (the file backend, --description
# with --priority, --worker-type, --task-id, --json) is decided here with shell builtins and a few small
# commands (mkdir, stat, cat, sync, mv, rmdir), exactly as the Node entry (dist/bin/create-task.js:
# src/bin/create-task.ts, src/queue/create-tasks.ts, src/store/task-batch.ts) decides it: the same task (keys,
# order, values, id form) in the same task-queue.json bytes, the same task_created event, the same output, the
# same one-line errors and exit codes. Whatever the shell cannot decide exactly (--help, --version,
# --metadata, --from-file, the redis backend, worker types it has no fresh word on from the Node entry's cache
# (src/queue/shell-cache.ts), a queue file not as our writers write it, a lock already held, bytes it cannot
# vouch for, a task id already queued with --json, a failed write, ...) goes to Node, which decides it all
# again from the start. `commit-relay create-task` is the same command.

case $0 in */*) relay_dir=${0%/*} ;; *) relay_dir=. ;; esac

lock=
unlock() {
  [ -z "$lock" ] || rmdir -- "$lock" 2>/dev/null
  lock=
  trap - EXIT HUP INT TERM
}

# shellcheck source=scripts/lib/checkin.sh
. "$relay_dir/lib/checkin.sh"
# shellcheck source=scripts/lib/create-task.sh
. "$relay_dir/lib/create-task.sh"

fallback() {
  unlock
  ck_exec_node "$relay_dir" create-task.js "$@"
}

LC_ALL=C
export LC_ALL
nl='
'

die() {
  unlock
  printf 'commit-relay: %s\n' "$2" >&2
  exit "$1"
}

# Flags as parseArgs of src/bin/create-task.ts reads them, in its order: --flag value or --flag=value, each at
# most once, a next word starting with -- never a value.
has_description='' has_priority='' has_worker_type='' has_task_id='' has_json='' json='' expect='' var=''
take() { # FLAG VARIABLE VALUE
  eval "[ -z \"\$has_$2\" ]" || die 2 "$1 was given more than once"
  eval "has_$2=1 $2=\$3"
}
for arg do
  if [ -n "$expect" ]; then
    case $arg in --*) die 2 "Not enough arguments following: ${expect#--}" ;; esac
    take "$expect" "$var" "$arg"
    expect=
    continue
  fi
  case $arg in
    --description | --priority) expect=$arg var=${arg#--} ;;
    --worker-type) expect=$arg var=worker_type ;;
    --task-id) expect=$arg var=task_id ;;
    --description=*) take --description description "${arg#*=}" ;;
    --priority=*) take --priority priority "${arg#*=}" ;;
    --worker-type=*) take --worker-type worker_type "${arg#*=}" ;;
    --task-id=*) take --task-id task_id "${arg#*=}" ;;
    --json | --json=true | --json=false)
      [ -z "$has_json" ] || die 2 '--json was given more than once'
      has_json=1
      [ "$arg" = --json=false ] || json=1
      ;;
    *[![:print:]]* | -h | --help | --version | --metadata | --metadata=* | --from-file | --from-file=*) fallback "$@" ;;
    --json=*) die 2 "--json takes no value, got $arg" ;;
    *)
      # Unknown: named without its leading dashes and from its first =.
      name=${arg#"${arg%%[!-]*}"}
      name=${name%%=*}
      case $name in '' | *' ') fallback "$@" ;; esac
      die 2 "Unknown argument: $name"
      ;;
  esac
done
[ -z "$expect" ] || die 2 "Not enough arguments following: ${expect#--}"
[ -n "$has_description" ] || die 2 'Missing required argument: description'

# Then as checkDraft (src/queue/create-tasks.ts) checks, in its order. The description is trimmed as String
# trim does: spaces here; a Unicode space at either end goes to Node (a control character anywhere).
case $description in *[[:cntrl:]]*) fallback "$@" ;; esac
case $description in *[![:print:]]*) ck_valid_utf8 "$description" || fallback "$@" ;; esac
description=${description#"${description%%[! ]*}"}
description=${description%"${description##*[! ]}"}
! ct_unicode_space_at_an_end "$description" || fallback "$@"
[ -n "$description" ] || die 2 '--description must not be empty'
if [ -n "$has_priority" ]; then
  case $priority in
    critical | high | medium | low) ;;
    *[![:print:]]*) fallback "$@" ;;
    *) die 2 "unknown priority \"$priority\": use one of critical, high, medium, low" ;;
  esac
else
  priority=medium
fi
if [ -n "$has_task_id" ]; then
  case $task_id in *[![:print:]]*) fallback "$@" ;; esac
  ck_valid_id "$task_id" || { ck_bad_id_message task "$task_id" && die 2 "$ck_bad_id"; }
fi
[ -z "$has_worker_type" ] || case $worker_type in *[![:print:]]*) fallback "$@" ;; esac

# The home (as Node resolves it) with its layout made, on the file backend.
[ -z "${COMMIT_RELAY_REDIS_URL:-}" ] && [ -z "${COMMIT_RELAY_HOST_ID:-}" ] || fallback "$@"
ck_resolve_home "$relay_dir" || fallback "$@"
home=$ck_home
coord=$home/coordination
for dir in "$coord/config" "$coord/worker-specs/active" "$coord/worker-specs/completed" "$coord/worker-specs/failed" \
  "$coord/worker-specs/archived" "$coord/worker-checkins" "$coord/worker-exits" "$coord/.locks" "$home/agents/logs/system"; do
  [ -d "$dir" ] || fallback "$@"
done
queue=$coord/task-queue.json
[ ! -h "$queue" ] || fallback "$@"

# The Node entry's cache: the default type, the type names, and the signatures of worker-types.json and
# pm-daemon.json they hold for.
{
  IFS= read -r header && IFS= read -r default_type && IFS= read -r type_names || header=
  cached=
  while IFS= read -r line; do cached=$cached$line$nl; done
} 2>/dev/null <"$coord/.create-task-cache" || fallback "$@"
[ "$header" = 'commit-relay create-task cache 1' ] && [ -n "$cached" ] || fallback "$@"
cached=${cached%"$nl"}
if [ -n "$has_worker_type" ]; then
  case " $type_names " in *" $worker_type "*) ;; *) fallback "$@" ;; esac
else
  worker_type=$default_type
fi
ck_valid_id "$worker_type" || fallback "$@"

# The lock as withQuickLock takes it (one mkdir: proper-lockfile's protocol); held already, Node waits for it.
lock_dir=$coord/.locks/task-queue.lock
trap 'unlock; exit 129' HUP
trap 'unlock; exit 130' INT
trap 'unlock; exit 143' TERM
trap unlock EXIT
mkdir -- "$lock_dir" 2>/dev/null || fallback "$@"
lock=$lock_dir

# One stat: the signatures to match the cache's, task-queue.json's size, and the lock's mtime (made just
# now: the time, as the kernel's clock gave it, without a `date`).
sigs=$(stat -L --printf '%n|%d|%i|%s|%.9Y|%.9Z\n' -- "$coord/config/worker-types.json" "$coord/config/pm-daemon.json" "$queue" "$lock" 2>/dev/null)
lock_sig=${sigs##*"$nl$lock|"}
case $lock_sig in *"$nl"* | "$sigs") fallback "$@" ;; esac
sigs=${sigs%"$nl$lock|$lock_sig"}
queue_size=
case $sigs in
  "$cached") ;;
  "$cached$nl$queue|"*)
    queue_sig=${sigs#"$cached$nl$queue|"}
    case $queue_sig in *"$nl"*) fallback "$@" ;; esac
    queue_sig=${queue_sig#*|}
    queue_sig=${queue_sig#*|}
    queue_size=${queue_sig%%|*}
    ;;
  *) fallback "$@" ;;
esac
mtime=${lock_sig#*|*|*|}
mtime=${mtime%%|*}
case $mtime in [1-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]) ;; *) fallback "$@" ;; esac
frac=${mtime#*.}
ck_iso_from_ms $((${mtime%.*} * 1000 + 1${frac%??????} - 1000))
created_at=$ck_now

# The queue as it is.
if [ -n "$queue_size" ]; then
  # A longer one (over some 300 tasks) takes the shell about as long to check as Node would take in all.
  [ -f "$queue" ] && [ "$queue_size" -le 131072 ] || fallback "$@"
  queue_text=$(cat -- "$queue") || fallback "$@"
  # Its last newline is the only one $(...) dropped, and no NUL byte was.
  [ "$queue_size" -eq $((${#queue_text} + 1)) ] || fallback "$@"
  ct_check_queue "$queue_text" || fallback "$@"
else
  ct_ids=' ' ct_empty=1
fi

if [ -n "$has_task_id" ]; then
  case $ct_ids in *" $task_id "*)
    # Queued already: nothing is queued or logged, and its id is printed (with --json Node prints the task).
    [ -z "$json" ] || fallback "$@"
    unlock
    printf '%s\n' "$task_id"
    exit 0
    ;;
  esac
  id=$task_id
else
  # newTaskId's form: the time to the second, then 24 bits (from the clock's nanoseconds and this process's
  # id: a name, not a secret). One already queued goes to Node (enqueueTasks makes another).
  bits=$((((1$frac - 1000000000) / 64 ^ $$ * 2654435761) & 16777215))
  hex=
  for _ in 1 2 3 4 5 6; do
    digit=$((bits % 16)) bits=$((bits / 16))
    case $digit in 10) digit=a ;; 11) digit=b ;; 12) digit=c ;; 13) digit=d ;; 14) digit=e ;; 15) digit=f ;; esac
    hex=$digit$hex
  done
  day=${created_at%%T*} time=${created_at#*T}
  time=${time%%.*}
  year=${day%%-*} day=${day#*-}
  hour=${time%%:*} time=${time#*:}
  id=task-$year${day%%-*}${day#*-}-$hour${time%%:*}${time#*:}-$hex
  case $ct_ids in *" $id "*) fallback "$@" ;; esac
fi

# The task as buildTask makes it, spliced in as JSON.stringify(queue, null, 2) writes the queue.
ck_json_escape "$description"
description_json=$ck_escaped
# The task's fields, one a line, each after the indent $1 (6 spaces in the queue, 2 printed with --json).
task_fields() {
  fields="$1\"task_id\": \"$id\",$nl$1\"description\": \"$description_json\",$nl$1\"priority\": \"$priority\",$nl$1\"worker_type\": \"$worker_type\",$nl$1\"status\": \"queued\",$nl$1\"created_at\": \"$created_at\",$nl$1\"metadata\": {},$nl$1\"worker_id\": null,$nl$1\"assigned_at\": null,$nl$1\"completed_at\": null,$nl$1\"error\": null"
}
task_fields '      '
task="{$nl$fields$nl    }"
end="$nl  ]$nl}"
if [ -n "$ct_empty" ]; then
  queue_text="{$nl  \"tasks\": [$nl    $task$end"
else
  queue_text="${queue_text%"$end"},$nl    $task$end"
fi
# One task_created as appendEvents writes it (a line over 32 KiB Node would cut: Node does that one).
ck_json_escape "$queue"
queue_json=$ck_escaped
event="{\"timestamp\":\"$created_at\",\"event\":\"task_created\",\"task_id\":\"$id\",\"data\":{\"priority\":\"$priority\",\"worker_type\":\"$worker_type\",\"description\":\"$description_json\",\"metadata\":{},\"queue\":{\"backend\":\"file\",\"queue\":\"$queue_json\"}}}$nl"
[ "${#event}" -le 32768 ] || fallback "$@"

# task-queue.json written as writeJsonSync writes it: a temp file beside it made exclusively, fsynced, renamed
# over it. Then the event, appended in one write (O_APPEND), after the lock is given back, as Node does.
ck_write_atomic "$queue" "$queue_text" sync || fallback "$@"
unlock
if ! { printf '%s' "$event" >>"$coord/pm-activity.jsonl"; } 2>/dev/null; then
  # The OS's reason: the shell's message for opening the file again to append nothing (its text after the last
  # ": ", as "Permission denied"); when that open works, the write itself failed.
  why=$({ : >>"$coord/pm-activity.jsonl"; } 2>&1) && why='the write failed (disk full?)'
  die 1 "cannot append to $coord/pm-activity.jsonl: ${why##*: }"
fi

if [ -z "$json" ]; then
  printf '%s\n' "$id"
else
  task_fields '  '
  printf '%s\n' "{$nl$fields,$nl  \"queue\": {$nl    \"backend\": \"file\",$nl    \"queue\": \"$queue_json\"$nl  },$nl  \"created\": true$nl}"
fi
