#!/bin/sh
# Container entry point.
#   (no arguments) or `run`: `slad migrate` (unless SLAD_SKIP_MIGRATE=1), then `slad run`
#   anything else:           passed to slad, e.g. `check-config`, `token create ...`
set -eu

if [ "$#" -eq 0 ] || { [ "$#" -eq 1 ] && [ "$1" = "run" ]; }; then
    if [ "${SLAD_SKIP_MIGRATE:-0}" != "1" ]; then
        slad migrate
    fi
    exec slad run
fi
exec slad "$@"
