#!/bin/sh
. "$(dirname -- "$0")/lib/cli.sh"
run_daemon "$@"
