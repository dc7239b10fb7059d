#!/bin/sh
set -e
# The chart passes only args (--appendonly yes …): run them with redis-server, as the official image does, and turn
# protected mode off when no config file sets it (else clients in other pods are refused: no bind, no password).
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi
if [ "$1" = redis-server ]; then
  shift
  conf=
  if [ -f "${1:-}" ]; then conf=$1; shift; fi
  if [ -n "$conf" ] && grep -q '^protected-mode' "$conf"; then
    set -- redis-server "$conf" "$@"
  else
    set -- redis-server ${conf:+"$conf"} --protected-mode no "$@"
  fi
fi
exec "$@"
