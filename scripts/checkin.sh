#!/bin/sh
# Records a worker's check-in. Runs a lean entry point (node built-ins only), not the whole CLI:
# agents call it often. See dist/bin/checkin.js --help.
relay_root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
relay_checkin="$relay_root/dist/bin/checkin.js"
if [ ! -f "$relay_checkin" ]; then
  echo "commit-relay is not built: run 'npm install' (or 'npm run build') in $relay_root" >&2
  exit 1
fi
exec node "$relay_checkin" "$@"
