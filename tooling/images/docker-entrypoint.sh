#!/bin/sh
set -e

# As the official node images do: run the command with node if the first argument starts with "-"
# or is not a command on PATH (or is a non-executable file).
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi

exec "$@"
