# Sourced by scripts/create-task.sh (after lib/checkin.sh): reading task-queue.json with shell builtins, only
# when it is exactly what our writers make (JSON.stringify(queue, null, 2)) and what enqueueTasks' quick check
# (src/store/task-batch.ts) takes as it is, so that the task spliced in before its end gives the bytes Node
# would write. Needs LC_ALL=C. Every name it sets starts with ct_ or _ct_.

_ct_nl='
'

# $1, the inside of a JSON string or a whole line, with each escape (\" \\ \b \f \n \r \t: those JSON.stringify
# writes itself, \u forms excepted) made one `x`, in _ct_sk: the skeleton has no backslash, and its quotes are
# the string's own. Fails on any other escape (\u..., \/, a lone backslash), which JSON.stringify would not
# write. Called with IFS and globbing set by _ck_split_on.
_ct_skeleton() {
  IFS=\\
  # shellcheck disable=SC2086 # split on purpose; the '.' keeps a trailing empty field
  set -- $1.
  _ct_sk=$1
  shift
  while [ "$#" -gt 0 ]; do
    if [ -z "$1" ]; then
      # An escaped backslash: the field after the second one is plain text.
      [ "$#" -ge 2 ] || return 1
      _ct_sk=${_ct_sk}x$2
      shift 2
      continue
    fi
    case $1 in [\"bfnrt]*) _ct_sk=${_ct_sk}x${1#?} ;; *) return 1 ;; esac
    shift
  done
  _ct_sk=${_ct_sk%.}
}

# Whether $1 starts or ends with a space String trim takes that is not ASCII (U+00A0, U+1680, U+2000-U+200A,
# U+2028, U+2029, U+202F, U+205F, U+3000, U+FEFF), in UTF-8: raw bytes in the patterns (dash has no escapes).
ct_unicode_space_at_an_end() {
  case $1 in
    ¬†* | ·öÄ* | ‚Ä[Ä-ä®©Ø]* | ‚Åü* | „ÄÄ* | Ôªø*) return 0 ;;
    *¬† | *·öÄ | *‚Ä[Ä-ä®©Ø] | *‚Åü | *„ÄÄ | *Ôªø) return 0 ;;
  esac
  return 1
}

# Whether $1 is a timestamp as toISOString writes it (the quick check's isOwnTimestamp): the form, and a real
# date and time (Date.parse would refuse or move anything else).
_ct_own_timestamp() {
  case $1 in [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z) ;; *) return 1 ;; esac
  _ct_y=$((1${1%%-*} - 10000)) _ct_r=${1#*-}
  _ct_m=$((1${_ct_r%%-*} - 100)) _ct_r=${_ct_r#*-}
  _ct_d=$((1${_ct_r%%T*} - 100)) _ct_r=${_ct_r#*T}
  [ "$_ct_m" -ge 1 ] && [ "$_ct_m" -le 12 ] && [ "$_ct_d" -ge 1 ] || return 1
  case $_ct_r in [01][0-9]:[0-5][0-9]:[0-5][0-9]* | 2[0-3]:[0-5][0-9]:[0-5][0-9]*) ;; *) return 1 ;; esac
  case $_ct_m in
    2) if [ $((_ct_y % 4)) -eq 0 ] && { [ $((_ct_y % 100)) -ne 0 ] || [ $((_ct_y % 400)) -eq 0 ]; }; then _ct_last=29; else _ct_last=28; fi ;;
    4 | 6 | 9 | 11) _ct_last=30 ;;
    *) _ct_last=31 ;;
  esac
  [ "$_ct_d" -le "$_ct_last" ]
}

# A task's own field ($1 the key, $2 the value's text, its escapes made `x`; $3 set when the line had an
# escape) as isPlainTask checks it.
_ct_task_field() {
  case $1 in
    task_id)
      case $2 in \"*\") ;; *) return 1 ;; esac
      _ct_v=${2#\"}
      _ct_v=${_ct_v%\"}
      [ -z "$3" ] && ck_valid_id "$_ct_v" || return 1
      ct_ids=$ct_ids$_ct_v' '
      ;;
    description | worker_type) case $2 in \"\" | [!\"]* | *[!\"]) return 1 ;; esac ;;
    priority) case $2 in \"critical\" | \"high\" | \"medium\" | \"low\") ;; *) return 1 ;; esac ;;
    status) case $2 in \"queued\" | \"assigned\" | \"completed\" | \"failed\" | \"cancelled\") ;; *) return 1 ;; esac ;;
    created_at)
      _ct_v=${2#\"}
      _ct_own_timestamp "${_ct_v%\"}" || return 1
      ;;
    metadata) case $2 in \{ | \{\}) ;; *) return 1 ;; esac ;;
    worker_id | error) case $2 in null | \"*\") ;; *) return 1 ;; esac ;;
    assigned_at | completed_at)
      [ "$2" = null ] && return 0
      _ct_v=${2#\"}
      _ct_own_timestamp "${_ct_v%\"}" || return 1
      ;;
  esac
}

_ct_usual_keys="$_ct_nl"task_id"$_ct_nl"description"$_ct_nl"priority"$_ct_nl"worker_type"$_ct_nl"status"$_ct_nl"created_at"$_ct_nl"metadata"$_ct_nl"worker_id"$_ct_nl"assigned_at"$_ct_nl"completed_at"$_ct_nl"error"$_ct_nl"

# A task's keys ($1: each after a newline) other than the usual ones: none twice, and the 7 isPlainTask needs.
_ct_task_keys() {
  _ct_rest=$1 _ct_required=0
  while [ "$_ct_rest" != "$_ct_nl" ]; do
    _ct_rest=${_ct_rest#"$_ct_nl"}
    _ct_key=${_ct_rest%%"$_ct_nl"*}
    _ct_rest=${_ct_rest#"$_ct_key"}
    case $_ct_rest in *"$_ct_nl$_ct_key$_ct_nl"*) return 1 ;; esac
    case $_ct_key in task_id | description | priority | worker_type | status | created_at | metadata) _ct_required=$((_ct_required + 1)) ;; esac
  done
  [ "$_ct_required" -eq 7 ]
}

# The lines of task-queue.json after `  "tasks": [`: each checked as a line of
# JSON.stringify's output (two spaces an indent level, an empty object or array as {} or [], a comma after
# every element but the last, no key twice in an object, no key a JSON.parse would move: __proto__ or an
# array index), each task's own fields as isPlainTask checks them. _ct_lvl counts the open containers (the
# top object and the tasks array are 2); _ct_types holds their kinds (o or a), innermost last.
_ct_check_lines() {
  _ct_lvl=2 _ct_types=oa _ct_more=1
  # A for loop: shift on a long list costs dash time in proportion to its length.
  for _ct_line do
    _ct_c=${_ct_line#"${_ct_line%%[! ]*}"}
    _ct_indent=$((${#_ct_line} - ${#_ct_c}))
    case $_ct_c in *[[:cntrl:]]*) return 1 ;; esac
    _ct_esc=
    case $_ct_c in *\\*)
      _ct_skeleton "$_ct_c" || return 1
      _ct_c=$_ct_sk _ct_esc=1
      ;;
    esac
    case $_ct_c in
      \} | \}, | \] | \],)
        # The innermost container ends: after its last element, at its opener's indent, of its kind.
        [ "$_ct_more" = 0 ] && [ "$_ct_indent" -eq $((2 * _ct_lvl - 2)) ] || return 1
        case $_ct_c$_ct_types in \}*o | \]*a) ;; *) return 1 ;; esac
        if [ "$_ct_lvl" -eq 3 ] && [ "$_ct_seq" != "$_ct_usual_keys" ]; then _ct_task_keys "$_ct_seq" || return 1; fi
        _ct_lvl=$((_ct_lvl - 1)) _ct_types=${_ct_types%?}
        case $_ct_c in *,) _ct_more=1 ;; *) _ct_more=0 ;; esac
        # The tasks array ends the top object: no key after it.
        [ "$_ct_lvl" -ge 2 ] || [ "$_ct_more" = 0 ] || return 1
        continue
        ;;
    esac
    [ "$_ct_more" = 1 ] && [ "$_ct_indent" -eq $((2 * _ct_lvl)) ] || return 1
    _ct_key=
    case $_ct_types in
      *o)
        case $_ct_c in \"*) ;; *) return 1 ;; esac
        _ct_c=${_ct_c#\"}
        _ct_key=${_ct_c%%\"*}
        _ct_c=${_ct_c#"$_ct_key"\"}
        case $_ct_c in ': '*) _ct_c=${_ct_c#': '} ;; *) return 1 ;; esac
        case $_ct_key in __proto__) return 1 ;; *[!0-9]* | '') ;; *) return 1 ;; esac
        if [ "$_ct_lvl" -eq 3 ]; then
          # A task's keys are checked when it ends (most have the 11 of buildTask, in its order).
          _ct_seq=$_ct_seq$_ct_key$_ct_nl
        else
          eval "_ct_seen=\$_ct_keys$_ct_lvl"
          case $_ct_seen in *"$_ct_nl$_ct_key$_ct_nl"*) return 1 ;; esac
          eval "_ct_keys$_ct_lvl=\$_ct_seen\$_ct_key\$_ct_nl"
        fi
        ;;
    esac
    case $_ct_c in *,) _ct_more=1 _ct_c=${_ct_c%,} ;; *) _ct_more=0 ;; esac
    case $_ct_c in
      \"*\") case ${_ct_c#?} in *\"?*) return 1 ;; esac ;;
      null | true | false | \{\} | \[\] | 0 | \{ | \[) ;;
      -0 | *[!0-9-]* | ?*-* | 0* | -0* | ????????????????*) return 1 ;;
      [1-9]* | -[1-9]*) ;;
      *) return 1 ;;
    esac
    if [ "$_ct_lvl" -eq 3 ]; then
      _ct_task_field "$_ct_key" "$_ct_c" "$_ct_esc" || return 1
    elif [ "$_ct_lvl" -eq 2 ]; then
      # An element of the tasks array: a task object.
      [ "$_ct_c" = \{ ] || return 1
      _ct_seq=$_ct_nl
    fi
    case $_ct_c in
      \{ | \[)
        # Opened last on its line; no deeper than parseObject reads quickly (MAX_JSON_DEPTH, 100).
        [ "$_ct_more" = 0 ] && [ "$_ct_lvl" -lt 100 ] || return 1
        _ct_lvl=$((_ct_lvl + 1)) _ct_more=1
        if [ "$_ct_c" = \{ ]; then
          _ct_types=${_ct_types}o
          eval "_ct_keys$_ct_lvl=\$_ct_nl"
        else _ct_types=${_ct_types}a; fi
        ;;
    esac
  done
  [ "$_ct_lvl" -eq 0 ]
}

# task-queue.json's text ($1, as $(cat) reads it: without its last newline) when the shell can tell exactly what
# Node would make of it: ct_ids holds its task ids (` id1 id2 `) and ct_empty is set when it has no task.
# Fails on anything else (Node decides then).
ct_check_queue() {
  ct_ids=' ' ct_empty=
  case $1 in
    "{$_ct_nl  \"tasks\": []$_ct_nl}")
      ct_empty=1
      return 0
      ;;
    "{$_ct_nl  \"tasks\": [$_ct_nl    {$_ct_nl"*"$_ct_nl    }$_ct_nl  ]$_ct_nl}") ;;
    *) return 1 ;;
  esac
  case $1 in *"$_ct_nl$_ct_nl"*) return 1 ;; esac
  # Bytes outside printable ASCII: well-formed UTF-8 only (readFileSync would change anything else).
  case $1 in *[![:print:]"$_ct_nl"]*) ck_valid_utf8 "$1" || return 1 ;; esac
  _ck_split_on "$_ct_nl"
  # shellcheck disable=SC2086 # split on purpose: one field a line (no line is empty)
  set -- $1
  shift 2
  _ct_check_lines "$@"
  _ct_rc=$?
  _ck_split_off
  return "$_ct_rc"
}
