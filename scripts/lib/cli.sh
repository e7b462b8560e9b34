# Sourced by the scripts/*.sh wrappers: runs one subcommand of the commit-relay CLI.
# The wrappers work from any working directory; the home is COMMIT_RELAY_HOME, else this project.
relay_root=$(CDPATH= cd -- "$(dirname -- "$0")" && while [ ! -f package.json ] && [ "$(pwd)" != / ]; do cd ..; done; pwd)
relay_cli="$relay_root/dist/cli/main.js"
require_built() {
  if [ ! -f "$1" ]; then
    echo "commit-relay is not built: run 'npm install' (or 'npm run build') in $relay_root" >&2
    exit 1
  fi
}
require_built "$relay_cli"
run_cli() {
  exec node "$relay_cli" "$@"
}
# The daemon runs long with a small, steady heap: a young generation of 2 MB per semi-space (V8's default grows to
# 16 MB) keeps its resident memory about 15 MB lower, at the cost of more (and shorter) scavenges. A V8 flag is
# read when the heap is made, so it must be on node's command line. Its garbage collection runs on its own thread
# (--single-threaded-gc): V8's helper threads for concurrent marking cost more CPU in all than they spare a daemon
# that is idle most of the time (1,000 idle workers: 3.3-3.5 % of a core -> 2.6-2.9 %); its pauses stay as short
# (mark-compacts 3.0-3.7 ms with it, 1.5-5.6 ms without; scavenges at most 13-14 ms either way). (docs/benchmarks.md.)
# It runs the lean entry, dist/bin/pm-daemon.js: the pm-daemon command without yargs and the other commands' modules
# (the daemon's start about 65 ms sooner), with the same flags and errors; bundled (dist/bundle/pm-daemon.js, made by
# build/bundle.mjs when esbuild is installed: about 55 ms sooner again) when the bundle is there.
run_daemon() {
  require_built "$relay_root/dist/bin/pm-daemon.js"
  daemon_entry=$relay_root/dist/bin/pm-daemon.js
  # The bundle only while nothing in dist/ is newer (a rebuild by tsc alone, tsc -w say, leaves an old bundle behind).
  bundle=$relay_root/dist/bundle/pm-daemon.js
  if [ -f "$bundle" ] && [ -z "$(find "$relay_root/dist" -name '*.js' -newer "$bundle" ! -path "$relay_root/dist/bundle/*" 2>/dev/null | head -n 1)" ]; then
    daemon_entry=$bundle
  fi
  exec node --max-semi-space-size=2 --single-threaded-gc "$daemon_entry" "$@"
}
