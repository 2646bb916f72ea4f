#!/usr/bin/env bash
# Install and start Debian's PostgreSQL for the registry's test suite, and print the URL the
# tests take (PHONECERT_TEST_POSTGRES_URL). Idempotent. Exits non-zero if PostgreSQL could not
# be brought up; the caller decides what that means.
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq postgresql >/dev/null
fi
read -r ver cluster _ < <(pg_lsclusters --no-header | head -1)
pg_ctlcluster "$ver" "$cluster" start >/dev/null 2>&1 || true
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 && break
  sleep 1
done
pg_isready -q -h 127.0.0.1
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='phonecert_ci'\"" | grep -q 1 ||
  su postgres -c "psql -qc \"CREATE ROLE phonecert_ci LOGIN SUPERUSER PASSWORD 'phonecert_ci'\"" >/dev/null
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='phonecert_ci'\"" | grep -q 1 ||
  su postgres -c "createdb -O phonecert_ci phonecert_ci"
echo "postgres://phonecert_ci:phonecert_ci@127.0.0.1:5432/phonecert_ci"
