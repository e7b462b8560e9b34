#!/bin/sh
# A Claude Code hook command: turns the hook event on stdin into the worker's check-in
# (coordination/worker-checkins/$WORKER_ID.json, the format scripts/checkin.sh writes).
#
#   SessionStart                       records the session id (kept in the spec for a resume)
#   UserPromptSubmit, PreToolUse,      activity: status in_progress and "activity": the event, so a
#   PostToolUse, PostToolUseFailure,   worker making tool calls is never stalled, whatever its progress
#   SubagentStop
#   Notification (permission/input),   status blocked with the message: a worker waiting for a person
#   PermissionRequest
#   Stop, StopFailure, SessionEnd      how the turn (or session) ended; StopFailure is failed, or
#                                      rate_limited when Claude Code names a rate limit
#
# Outside a worker (no WORKER_ID) it does nothing: a person's own sessions are untouched. It never
# blocks Claude Code: it prints nothing on stdout (SessionStart's and UserPromptSubmit's stdout would
# enter the model's context), and on its own errors writes one line to stderr and exits 0 (exit 2
# would block the tool call). A shell script with one jq, not a Node start: it runs on every tool call;
# with the event named as its first argument (the settings `commit-relay hooks claude-code` prints do
# so), a tool call's check-in needs no jq at all.

case $0 in */*) hook_dir=${0%/*} ;; *) hook_dir=. ;; esac
case ${1:-} in
  -h | --help)
    printf '%s\n' 'Usage: claude-code.sh [EVENT] < HOOK_JSON' '' \
      "A Claude Code hook command: records the worker's check-in from the hook event on stdin (with WORKER_ID" \
      'and COMMIT_RELAY_HOME from the environment; outside a worker it does nothing). EVENT, as the settings of' \
      '`commit-relay hooks claude-code` pass it, lets a tool call skip reading the input. Always exits 0.'
    exit 0
    ;;
  --version)
    # commit-relay's version, from its package.json (two folders up).
    sed -n 's/^  "version": "\(.*\)",\{0,1\}$/\1/p' "$hook_dir/../../package.json"
    exit 0
    ;;
esac
[ -n "${WORKER_ID:-}" ] || exit 0
LC_ALL=C
export LC_ALL

fail() {
  printf 'claude-code hook: %s\n' "$1" >&2
  exit 0
}

# shellcheck source=scripts/lib/checkin.sh
. "$hook_dir/../lib/checkin.sh"
if ! ck_valid_id "$WORKER_ID"; then
  [ "${#WORKER_ID}" -le 128 ] || fail "invalid WORKER_ID: it is ${#WORKER_ID} characters long (at most 128)"
  fail "invalid WORKER_ID \"$WORKER_ID\": it must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
fi

if [ -n "${COMMIT_RELAY_HOME:-}" ]; then
  home=$COMMIT_RELAY_HOME
else
  home=$(CDPATH='' cd -- "$hook_dir/../.." && pwd) || fail 'cannot find the commit-relay home'
fi
coord=$home/coordination
[ -f "$coord/worker-specs/active/$WORKER_ID.json" ] || fail "no worker \"$WORKER_ID\" in $coord/worker-specs/active"

dir=$coord/worker-checkins
file=$dir/$WORKER_ID.json
[ -d "$dir" ] || mkdir -p -- "$dir" 2>/dev/null || fail "cannot create $dir"
# The previous check-in, for its progress: only a regular file (a planted link is not followed).
previous=/dev/null
[ -f "$file" ] && [ ! -h "$file" ] && previous=$file
# Not ending in .json, so readers listing the folder never see it; the daemon's sweep knows the name.
temp=$file.tmp.$$
# The temp file is created, never an existing file (or a link planted under its name) written through.
set -C

# The fast path, for the events of every tool call: the settings `commit-relay hooks claude-code` prints
# name the event as the first argument, and then neither jq nor the input is needed (the input, which
# holds the tool's whole input and output, is left unread: hooks may ignore it). Without a usable run id,
# a clock (/proc or GNU date) or a previous check-in the shell reads exactly (scripts/lib/checkin.sh), the
# general path below.
case ${1:-} in
  PreToolUse | PostToolUse | PostToolUseFailure)
    run_id=${COMMIT_RELAY_RUN_ID:-}
    case $run_id in *[!A-Za-z0-9._:-]*) run_id=invalid ;; esac
    # The previous check-in as the shell reads it exactly (else the general path: jq reads it).
    if [ "$run_id" != invalid ] && ck_read_previous "$file" && ck_now_or_date; then
      if [ -n "$run_id" ]; then run_json="\"$run_id\""; else run_json=null; fi
      # The session the previous check-in of this run named is kept (the daemon may read only the latest
      # check-in): only a plain id (as the daemon accepts for a resume) and only from the same run.
      session_json=
      if [ -n "$run_id" ] && [ "$ck_prev_run_id" = "$run_id" ]; then
        case $ck_prev_session in '' | -* | *[!A-Za-z0-9._:@+=-]*) ;; *) session_json=",\"session_id\":\"$ck_prev_session\"" ;; esac
      fi
      ck_write_atomic "$file" "{\"worker_id\":\"$WORKER_ID\",\"timestamp\":\"$ck_now\",\"status\":\"in_progress\",\"progress_pct\":${ck_prev_progress:-0},\"message\":\"$1\",\"run_id\":$run_json$session_json,\"hook_event\":\"$1\",\"activity\":\"$1\"}" ||
        fail "cannot write $file"
      exit 0
    fi
    ;;
esac

# The fast path above needs no jq; every other event does.
command -v jq >/dev/null 2>&1 || fail 'jq is not installed: no check-in recorded'

# One jq: the hook JSON on stdin, the check-in (or nothing, for an event it does not record) on stdout.
if ! error=$(jq -n -c \
  --arg worker_id "$WORKER_ID" \
  --arg run_id "${COMMIT_RELAY_RUN_ID:-}" \
  --rawfile previous "$previous" \
  '
  def text: if type == "string" then . else null end;
  def cut: if . == null then null elif length > 4000 then .[0:3999] + "…" else . end;
  def stamp: now as $n | ($n | floor | todate | sub("Z$"; "")) + "." + ("00" + (($n * 1000 | floor) % 1000 | tostring))[-3:] + "Z";
  def waiting($kind; $msg): ($kind == "permission_prompt" or $kind == "idle_prompt" or $kind == "elicitation_dialog")
    or ($kind == null and ($msg // "" | test("permission|waiting for your input|needs your (input|attention)"; "i")));
  # Not `try input`: jq 1.6 would also catch the errors raised further down the pipe.
  [inputs] as $inputs
  | if ($inputs | length) == 0 then error("no hook input on stdin") else $inputs[0] end
  | if type != "object" then error("the hook input is not a JSON object") else . end
  | (.hook_event_name | text) as $event
  | if $event == null then error("the hook input has no hook_event_name") else . end
  | (.session_id | text | if . != null and (length > 200 or length == 0 or test("[[:cntrl:]]")) then null else . end) as $session
  | (.tool_name | text) as $tool
  | (.message | text) as $message
  | (.notification_type | text) as $kind
  | (if $event == "SessionStart" then {status: "in_progress", activity: $event, message: ("session started" + (if (.source | text) != null then " (\(.source))" else "" end))}
     elif $event == "UserPromptSubmit" or $event == "SubagentStop" then {status: "in_progress", activity: $event, message: $event}
     elif $event == "PreToolUse" or $event == "PostToolUse" or $event == "PostToolUseFailure" then {status: "in_progress", activity: $event, message: ($event + (if $tool != null then " " + $tool else "" end))}
     elif $event == "Notification" then
       if waiting($kind; $message) then {status: "blocked", message: ($message // "waiting for a person")}
       else {status: "in_progress", message: ($message // "notification")} end
     elif $event == "PermissionRequest" then {status: "blocked", message: ("permission requested" + (if $tool != null then " to use " + $tool else "" end))}
     elif $event == "Stop" then {status: "in_progress", message: "turn ended (Stop)"}
     elif $event == "StopFailure" then
       ((.error | text) // (.error_type | text) // "unknown error") as $why
       | {status: (if ($why | test("rate.?limit|overloaded|usage limit"; "i")) then "rate_limited" else "failed" end), message: ("turn failed (StopFailure): " + $why)}
     elif $event == "SessionEnd" then {status: "in_progress", message: ("session ended" + (if (.reason | text) != null then " (\(.reason))" else "" end))}
     else null end) as $record
  | if $record == null then empty else
      ((try ($previous | fromjson | .progress_pct) catch null) | if type == "number" and . >= 0 and . <= 100 then . else 0 end) as $progress
      | {worker_id: $worker_id, timestamp: stamp, status: $record.status, progress_pct: $progress, message: ($record.message | cut),
         run_id: (if $run_id == "" then null else $run_id end), hook_event: $event}
        + (if $record.activity then {activity: $record.activity} else {} end)
        + (if $session != null then {session_id: $session} else {} end)
    end
  ' 2>&1 >"$temp"); then
  rm -f -- "$temp"
  fail "$(printf '%s' "$error" | tr '\n' ' ' | cut -c1-300)"
fi
if [ -s "$temp" ]; then
  mv -fT -- "$temp" "$file" || { rm -f -- "$temp"; fail "cannot write $file"; }
else
  rm -f -- "$temp"
fi
exit 0
