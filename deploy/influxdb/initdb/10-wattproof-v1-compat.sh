#!/bin/bash
# InfluxDB 2.x first-start hook (run once by the influxdb image's entrypoint, after `influx setup`,
# from /docker-entrypoint-initdb.d; the entrypoint has configured the `influx` CLI with the admin
# token and exported DOCKER_INFLUXDB_INIT_BUCKET_ID).
#
# Wattproof writes with /api/v2/write to the bucket INFLUX_DATABASE and reads with InfluxQL on the
# v1-compatible /query?db=INFLUX_DATABASE, which resolves the database through a DBRP mapping.
# InfluxDB >= 2.4 keeps a *virtual* mapping per bucket, which is not the default mapping of its
# database; this creates a real, default one (database = bucket name, retention policy autogen)
# so queries without an `rp` resolve on every 2.x version.
#
# When INFLUX_V1_READ_USERNAME and INFLUX_V1_READ_PASSWORD are set it also creates a v1 login
# that may only read the bucket, for InfluxQL clients that authenticate with user and password
# (basic auth) instead of a token, e.g. a Grafana InfluxQL data source.
set -euo pipefail

db="${DOCKER_INFLUXDB_INIT_BUCKET:?}"
bucket_id="${DOCKER_INFLUXDB_INIT_BUCKET_ID:?}"
rp=autogen

# The hook runs only on the first start (empty volume), so no real mapping exists yet.
influx v1 dbrp create --bucket-id "$bucket_id" --db "$db" --rp "$rp" --default
echo "wattproof: created DBRP mapping $db/$rp -> bucket $bucket_id (default)"

if [ -n "${INFLUX_V1_READ_USERNAME:-}" ] && [ -n "${INFLUX_V1_READ_PASSWORD:-}" ]; then
  influx v1 auth create --username "$INFLUX_V1_READ_USERNAME" --password "$INFLUX_V1_READ_PASSWORD" \
    --read-bucket "$bucket_id" --description "wattproof: InfluxQL read-only (basic auth)"
  echo "wattproof: created v1 read-only login $INFLUX_V1_READ_USERNAME for bucket $db"
fi
