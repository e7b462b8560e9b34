# Sourced by scripts/checkin.sh and scripts/hooks/claude-code.sh: the pieces of a check-in both write, with
# shell builtins only (a process start costs a few ms here: the only fork on the common path is the `mv`).
# Needs LC_ALL=C (byte-wise patterns). Every name it sets starts with ck_ or _ck_.

# The hand-off of scripts/checkin.sh and create-task.sh: exec the Node entry dist/bin/$2 with the rest as its
# arguments ($1 the scripts/ folder), or say the project is not built.
ck_exec_node() {
  _ck_entry=$1/../dist/bin/$2
  if [ ! -f "$_ck_entry" ]; then
    _ck_root=$(CDPATH='' cd -- "$1/.." && pwd)
    echo "commit-relay is not built: run 'npm install' (or 'npm run build') in $_ck_root" >&2
    exit 1
  fi
  shift 2
  exec node "$_ck_entry" "$@"
}

# The time with builtins (a `date` costs a process start): the time since boot (/proc/uptime, in hundredths)
# plus the boot time (/proc/stat btime, whole seconds, kept by the kernel in step with the wall clock), as an
# ISO time in ck_now. It may read up to a second early (btime is whole seconds), never late. Fails where /proc
# does not say (then ck_now_or_date runs `date`). (dash's read takes a byte a call: the short files it can.)
ck_now_from_proc() {
  { read -r _ck_up _ck_rest </proc/uptime; } 2>/dev/null || return 1
  _ck_btime=
  while read -r _ck_key _ck_value; do
    if [ "$_ck_key" = btime ]; then _ck_btime=$_ck_value; break; fi
  done </proc/stat 2>/dev/null
  case $_ck_up in *[!0-9.]* | .* | *.*.*) return 1 ;; [0-9]*.[0-9][0-9]) ;; *) return 1 ;; esac
  case $_ck_btime in '' | *[!0-9]*) return 1 ;; esac
  _ck_frac=${_ck_up#*.}
  ck_iso_from_ms $(((_ck_btime * 100 + ${_ck_up%.*} * 100 + ${_ck_frac#0}) * 10))
}

# Milliseconds since 1970 ($1) as toISOString writes them, in ck_now: arithmetic only, no fork.
ck_iso_from_ms() {
  _ck_secs=$(($1 / 1000))
  # Days since 1970-01-01 to a civil date (H. Hinnant's days_from_civil, inverted).
  _ck_z=$((_ck_secs / 86400 + 719468))
  _ck_rem=$((_ck_secs % 86400))
  _ck_era=$((_ck_z / 146097))
  _ck_doe=$((_ck_z - _ck_era * 146097))
  _ck_yoe=$(((_ck_doe - _ck_doe / 1460 + _ck_doe / 36524 - _ck_doe / 146096) / 365))
  _ck_doy=$((_ck_doe - (365 * _ck_yoe + _ck_yoe / 4 - _ck_yoe / 100)))
  _ck_mp=$(((5 * _ck_doy + 2) / 153))
  _ck_day=$((_ck_doy - (153 * _ck_mp + 2) / 5 + 1))
  if [ "$_ck_mp" -lt 10 ]; then _ck_month=$((_ck_mp + 3)); else _ck_month=$((_ck_mp - 9)); fi
  _ck_year=$((_ck_yoe + _ck_era * 400))
  if [ "$_ck_month" -le 2 ]; then _ck_year=$((_ck_year + 1)); fi
  # Zero-padded by arithmetic (100 + n, its leading 1 cut): no command substitution, no fork.
  _ck_mo=$((100 + _ck_month)) _ck_da=$((100 + _ck_day)) _ck_ho=$((100 + _ck_rem / 3600)) _ck_mi=$((100 + _ck_rem % 3600 / 60))
  _ck_se=$((100 + _ck_rem % 60)) _ck_ms=$((1000 + $1 % 1000))
  ck_now="$_ck_year-${_ck_mo#1}-${_ck_da#1}T${_ck_ho#1}:${_ck_mi#1}:${_ck_se#1}.${_ck_ms#1}Z"
}

# ck_now from /proc, else from GNU date (one fork); fails when neither says.
ck_now_or_date() {
  ck_now_from_proc && return 0
  ck_now=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ 2>/dev/null) || return 1
  case $ck_now in *N*) return 1 ;; esac
}

# The id rule of src/contract/ids.ts (^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$, no ".."): a safe file name, never a path.
ck_valid_id() {
  case $1 in '' | [!A-Za-z0-9]* | *[!A-Za-z0-9._-]* | *..*) return 1 ;; esac
  [ "${#1}" -le 128 ]
}

# Why $2 is not a valid id, as assertValidId (src/contract/ids.ts) words it, in ck_bad_id: `invalid KIND id
# "ID": why` ($1 the kind); the id shown is cut at 60 characters. For printable ASCII ids (the callers check).
ck_bad_id_message() {
  _ck_shown=$2
  if [ "${#2}" -gt 60 ]; then
    _ck_rest=${2#????????????????????????????????????????????????????????????}
    _ck_shown=${2%"$_ck_rest"}
  fi
  ck_json_escape "$_ck_shown"
  [ "$_ck_shown" = "$2" ] || ck_escaped=$ck_escaped$(printf '\342\200\246')
  case $2 in
    '') _ck_why='it is empty' ;;
    *) if [ "${#2}" -gt 128 ]; then _ck_why="it is ${#2} characters long (at most 128)"; else
      case $2 in
        */* | *\\*) _ck_why='it contains a path separator' ;;
        *..*) _ck_why='it contains ".."' ;;
        *) _ck_why='it must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' ;;
      esac
    fi ;;
  esac
  ck_bad_id="invalid $1 id \"$ck_escaped\": $_ck_why"
}

# The home as path.resolve gives it, in ck_home ($1: the scripts/ folder): COMMIT_RELAY_HOME when absolute and
# already in its resolved form, else this project (the real path of the folder above scripts/, as Node finds
# it from dist/bin/). Fails when the shell cannot tell it exactly (then Node decides).
ck_resolve_home() {
  if [ -n "${COMMIT_RELAY_HOME:-}" ]; then
    ck_home=$COMMIT_RELAY_HOME
  else
    ck_home=$(CDPATH='' cd -P -- "$1/.." && pwd -P) || return 1
    [ -f "$ck_home/package.json" ] && [ ! -e "$ck_home/dist/package.json" ] && [ ! -e "$ck_home/dist/bin/package.json" ] || return 1
  fi
  case $ck_home in /*) ;; *) return 1 ;; esac
  case $ck_home in */ | */. | */.. | *//* | */./* | */../* | *[![:print:]]*) return 1 ;; esac
}

# Field splitting (IFS) instead of a loop of ${x%%...}: dash takes a few ms for each of those on a long
# string, and splitting is one pass. These two save and restore IFS and globbing around it.
_ck_split_on() {
  _ck_ifs_set=${IFS+1} _ck_ifs=$IFS
  case $- in *f*) _ck_glob= ;; *) _ck_glob=1 && set -f ;; esac
  IFS=$1
}
_ck_split_off() {
  if [ -n "$_ck_ifs_set" ]; then IFS=$_ck_ifs; else unset IFS; fi
  [ -z "$_ck_glob" ] || set +f
}

# $1 as the inside of a JSON string, in ck_escaped: `\` and `"` escaped. For printable ASCII or UTF-8 text
# without control characters (the callers check): that is all JSON.stringify escapes there.
ck_json_escape() {
  case $1 in *[\\\"]*) ;; *)
    ck_escaped=$1
    return 0
    ;;
  esac
  _ck_split_on \\
  # shellcheck disable=SC2086 # split on purpose; the '.' keeps a trailing empty field
  set -- $1.
  ck_escaped=$1
  shift
  for _ck_f do ck_escaped=$ck_escaped\\\\$_ck_f; done
  IFS=\"
  # shellcheck disable=SC2086
  set -- $ck_escaped
  ck_escaped=$1
  shift
  for _ck_f do ck_escaped=$ck_escaped\\\"$_ck_f; done
  ck_escaped=${ck_escaped%.}
  _ck_split_off
}

# A progress as JSON.stringify writes a number from 0 to 100 that a shell can tell exactly: an integer 0..100
# without leading zeros, or one with a fraction of at most 12 digits, the last not 0 (15 significant digits
# at most, so the text is the shortest that reads back as the same double: the text Node writes).
ck_canonical_progress() {
  case $1 in
    0 | [1-9] | [1-9][0-9] | 100) return 0 ;;
    [0-9].*[1-9] | [1-9][0-9].*[1-9]) ;;
    *) return 1 ;;
  esac
  _ck_frac=${1#*.}
  case $_ck_frac in *[!0-9]*) return 1 ;; esac
  [ "${#_ck_frac}" -le 12 ] || return 1
  # Under 1e-6 Node writes an exponent (1e-7).
  case $1 in 0.000000*) return 1 ;; esac
}

# Whether $1 is well-formed UTF-8 (no stray or missing continuation byte, no overlong form, no surrogate, nothing
# over U+10FFFF): what Node reads from argv unchanged (it turns anything else into U+FFFD). The patterns hold
# raw bytes (\200-\277 are continuation bytes, \302-\364 lead bytes): dash has no escapes in patterns.
ck_valid_utf8() {
  case $1 in
    [Ä-ø]* | \
    *[-][Ä-ø]* | \
    *[¿¡ı-ˇ]* | \
    *[¬-ﬂ] | \
    *[¬-ﬂ][!Ä-ø]* | \
    *[¬-ﬂ][Ä-ø][Ä-ø]* | \
    *[‡-Ô] | \
    *[‡-Ô][Ä-ø] | \
    *[‡-Ô][!Ä-ø]* | \
    *[‡-Ô][Ä-ø][!Ä-ø]* | \
    *[‡-Ô][Ä-ø][Ä-ø][Ä-ø]* | \
    *[-Ù] | \
    *[-Ù][Ä-ø] | \
    *[-Ù][Ä-ø][Ä-ø] | \
    *[-Ù][!Ä-ø]* | \
    *[-Ù][Ä-ø][!Ä-ø]* | \
    *[-Ù][Ä-ø][Ä-ø][!Ä-ø]* | \
    *[-Ù][Ä-ø][Ä-ø][Ä-ø][Ä-ø]* | \
    *‡[Ä-ü]* | \
    *Ì[†-ø]* | \
    *[Ä-è]* | \
    *Ù[ê-ø]*) return 1 ;;
  esac
}

# Whether the inside of a JSON string, $1 (no unescaped quote in it), has only valid escapes: after each
# escaping backslash one of "\/bfnrt, or u and 4 hex digits. Split on backslashes: an empty field is an
# escaped backslash (the text after it is plain). Called with IFS and globbing set by _ck_split_on.
_ck_valid_escapes() {
  case $1 in *\\*) ;; *) return 0 ;; esac
  IFS=\\
  # shellcheck disable=SC2086
  set -- $1.
  shift
  while [ "$#" -gt 0 ]; do
    case $1 in
      '') [ "$#" -ge 2 ] && shift 2 || return 1 ;;
      [\"/bfnrt]* | u[0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f]*) shift ;;
      *) return 1 ;;
    esac
  done
}

# The fields of a check-in line split on `"` ({, key, :, string, ",", key, ":40,", ...): what the shell can
# tell of it exactly, as ck_read_previous says; fails on anything else.
_ck_previous_fields() {
  [ "$1" = '{' ] || return 1
  shift
  _ck_seen=' '
  while [ "$#" -ge 2 ]; do
    _ck_key=$1 _ck_out=$2
    shift 2
    case $_ck_key in '' | *[!a-z_]*) return 1 ;; esac
    case $_ck_seen in *" $_ck_key "*) return 1 ;; esac
    _ck_seen="$_ck_seen$_ck_key "
    case $_ck_out in
      :)
        # A string: its fields up to a quote not escaped (one after an even run of backslashes).
        _ck_s=
        while [ "$#" -ge 1 ]; do
          _ck_f=$1
          shift
          _ck_s=$_ck_s$_ck_f
          case $_ck_f in *\\) ;; *) break ;; esac
          _ck_t=${_ck_f##*[!\\]}
          [ $((${#_ck_t} % 2)) -eq 1 ] || break
          _ck_s=$_ck_s\"
        done
        [ "$#" -ge 1 ] || return 1
        _ck_valid_escapes "$_ck_s" || return 1
        case $_ck_key in
          run_id | session_id)
            case $_ck_s in *\\* | *[![:print:]]*) return 1 ;; esac
            if [ "$_ck_key" = run_id ]; then ck_prev_run_id=$_ck_s; else ck_prev_session=$_ck_s; fi
            ;;
        esac
        _ck_out=$1
        shift
        case $_ck_out in
          ,) continue ;;
          \}) [ "$#" -eq 0 ] && return 0 || return 1 ;;
          *) return 1 ;;
        esac
        ;;
      :*,) _ck_v=${_ck_out%,} ;;
      :*\}) [ "$#" -eq 0 ] && _ck_v=${_ck_out%\}} || return 1 ;;
      *) return 1 ;;
    esac
    _ck_v=${_ck_v#:}
    case $_ck_v in
      null | true | false) ;;
      *)
        ck_canonical_progress "$_ck_v" || return 1
        [ "$_ck_key" != progress_pct ] || ck_prev_progress=$_ck_v
        ;;
    esac
    case $_ck_out in *\}) return 0 ;; esac
  done
  return 1
}

# The previous check-in in $1, for what a new one keeps (as previousCheckin of src/worker/checkin.ts reads it):
# ck_prev_progress (its progress_pct when a number from 0 to 100, as written), ck_prev_run_id (its run_id when
# a string) and ck_prev_session (its session_id when a non-empty string); each empty when absent. No file, a
# link (never followed) or not a regular file: nothing kept. Fails when the shell cannot tell exactly what
# JSON.parse would: anything but one line holding a flat JSON object of plain keys, with null, true, false,
# strings or a canonical progress as values, no whitespace, no control character, no key twice; a run_id or
# session_id with an escape or a byte outside printable ASCII. Our writers (checkin.sh, Node, the hook) write
# that one line; the caller lets Node (or jq) decide the rest.
ck_read_previous() {
  ck_prev_progress= ck_prev_run_id= ck_prev_session=
  [ -h "$1" ] && return 0
  [ -f "$1" ] || return 0
  _ck_rest=
  { IFS= read -r _ck_line && ! IFS= read -r _ck_rest && [ -z "$_ck_rest" ]; } <"$1" 2>/dev/null || return 1
  # Node reads at most 64 KiB (the line and its newline).
  [ "${#_ck_line}" -le 65535 ] || return 1
  case $_ck_line in \{\"*\} | \{\}) ;; *) return 1 ;; esac
  case $_ck_line in *[[:cntrl:]]*) return 1 ;; esac
  [ "$_ck_line" != '{}' ] || return 0
  _ck_split_on \"
  # shellcheck disable=SC2086 # split on purpose
  set -- $_ck_line
  _ck_previous_fields "$@"
  _ck_rc=$?
  _ck_split_off
  [ "$_ck_rc" -eq 0 ] && return 0
  ck_prev_progress= ck_prev_run_id= ck_prev_session=
  return 1
}

# Writes the line $2 as the file $1, atomically: a temp file beside it (not ending in .json, so readers listing
# the folder never see it; the daemon's sweep knows the name `<file>.tmp.<pid>`), created, never an existing
# file (or a link planted under its name) written through: a name taken is a failure, and the create is
# exclusive (set -C: O_EXCL), fsynced first when $3 is `sync` (one more command), then renamed over $1 (mv -T:
# a planted link at $1 is replaced, never followed into a folder). Fails with nothing of its own left behind.
ck_write_atomic() {
  _ck_temp=$1.tmp.$$ _ck_made=
  if [ -h "$_ck_temp" ] || [ -e "$_ck_temp" ]; then return 1; fi
  case $- in *C*) _ck_noclobber= ;; *) _ck_noclobber=1 && set -C ;; esac
  { {
    _ck_made=1
    printf '%s\n' "$2"
  } >"$_ck_temp"; } 2>/dev/null && { [ "${3:-}" != sync ] || sync -- "$_ck_temp" 2>/dev/null; } && mv -fT -- "$_ck_temp" "$1" 2>/dev/null
  _ck_rc=$?
  [ -z "$_ck_noclobber" ] || set +C
  [ "$_ck_rc" -eq 0 ] && return 0
  # Only a temp file this shell created is removed.
  [ -z "$_ck_made" ] || rm -f -- "$_ck_temp"
  return 1
}
