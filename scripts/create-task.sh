#!/bin/sh
# Queues a task (or, with --from-file, many). Runs a lean entry point (no yargs, no zod on the file
# backend), not the whole CLI: see dist/bin/create-task.js --help. `commit-relay create-task` is the same.
. "$(dirname -- "$0")/lib/cli.sh"
exec node "$relay_root/dist/bin/create-task.js" "$@"
