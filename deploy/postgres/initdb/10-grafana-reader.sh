#!/bin/bash
# PostgreSQL first-start hook (run once by the postgres image's entrypoint, from
# /docker-entrypoint-initdb.d, when the data volume is empty): a login for Grafana's PostgreSQL
# data source that may read the registry and change nothing.
#
# The registry's tables do not exist yet (Wattproof creates them on its first start, as
# POSTGRES_USER), so the reader gets SELECT through default privileges on every table that role
# creates in schema public. Skipped when GRAFANA_POSTGRES_USER or GRAFANA_POSTGRES_PASSWORD is unset.
set -euo pipefail

if [ -z "${GRAFANA_POSTGRES_USER:-}" ] || [ -z "${GRAFANA_POSTGRES_PASSWORD:-}" ]; then
  echo "wattproof: GRAFANA_POSTGRES_USER/PASSWORD unset, no read-only login for Grafana"
  exit 0
fi

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v owner="$POSTGRES_USER" -v db="$POSTGRES_DB" \
  -v reader="$GRAFANA_POSTGRES_USER" -v password="$GRAFANA_POSTGRES_PASSWORD" <<'SQL'
CREATE ROLE :"reader" LOGIN PASSWORD :'password' NOSUPERUSER NOCREATEDB NOCREATEROLE;
GRANT CONNECT ON DATABASE :"db" TO :"reader";
GRANT USAGE ON SCHEMA public TO :"reader";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO :"reader";
SQL
echo "wattproof: created read-only login $GRAFANA_POSTGRES_USER for Grafana"
