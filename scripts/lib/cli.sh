# Sourced by the scripts/*.sh wrappers: runs one subcommand of the commit-relay CLI.
# The wrappers work from any working directory; the home is COMMIT_RELAY_HOME, else this project.
relay_root=$(CDPATH= cd -- "$(dirname -- "$0")" && while [ ! -f package.json ] && [ "$(pwd)" != / ]; do cd ..; done; pwd)
relay_cli="$relay_root/dist/cli/main.js"
if [ ! -f "$relay_cli" ]; then
  echo "commit-relay is not built: run 'npm install' (or 'npm run build') in $relay_root" >&2
  exit 1
fi
run_cli() {
  exec node "$relay_cli" "$@"
}
