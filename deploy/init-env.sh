#!/bin/sh
# Writes deploy/env/<name>.env from every deploy/env/<name>.env.example, with each placeholder
# "change-me-<what>" replaced by a random secret: one per <what>, so a secret that two files
# share (the InfluxDB token, the PostgreSQL passwords) gets the same value in both. Secrets are
# 32 hex digits: safe inside a URL (REGISTRY_POSTGRES_URL) and in any env-file syntax.
#
#   sh deploy/init-env.sh [DIR]      (DIR: the folder of the examples, default deploy/env)
#
# It writes all files or none: when one of them exists already it changes nothing and fails,
# since new secrets would not match those the databases were initialised with.
set -eu

dir=${1:-$(dirname "$0")/env}
existing=""
for example in "$dir"/*.env.example; do
  [ -e "$example" ] || { echo "no *.env.example in $dir" >&2; exit 1; }
  [ -e "${example%.example}" ] && existing="$existing ${example%.example}"
done
if [ -n "$existing" ]; then
  echo "already there:$existing" >&2
  echo "nothing written; to start over, remove every deploy/env/*.env (and the volumes: docker compose down -v)" >&2
  exit 1
fi

umask 077
secrets=$(mktemp)
trap 'rm -f "$secrets"' EXIT
for example in "$dir"/*.env.example; do
  env=${example%.example}
  awk -v secrets="$secrets" '
    BEGIN { while ((getline line < secrets) > 0) { split(line, kv, " "); known[kv[1]] = kv[2] } close(secrets) }
    {
      out = ""
      while (match($0, /change-me-[A-Za-z0-9-]*[A-Za-z0-9]/)) {
        name = substr($0, RSTART, RLENGTH)
        if (!(name in known)) {
          cmd = "od -An -N16 -tx1 /dev/urandom"
          hex = ""
          while ((cmd | getline part) > 0) hex = hex part
          close(cmd)
          gsub(/[^0-9a-f]/, "", hex)
          known[name] = hex
          print name, hex >> secrets
        }
        out = out substr($0, 1, RSTART - 1) known[name]
        $0 = substr($0, RSTART + RLENGTH)
      }
      print out $0
    }' "$example" >"$env"
  echo "wrote $env"
done
