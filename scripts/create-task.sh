#!/bin/sh
# Queues a task (or, with --from-file, many). Runs a lean entry point (no yargs, no zod on the file
# backend), not the whole CLI: see dist/bin/create-task.js --help. `commit-relay create-task` is the same.
relay_root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
relay_create_task="$relay_root/dist/bin/create-task.js"
if [ ! -f "$relay_create_task" ]; then
  echo "commit-relay is not built: run 'npm install' (or 'npm run build') in $relay_root" >&2
  exit 1
fi
exec node "$relay_create_task" "$@"
