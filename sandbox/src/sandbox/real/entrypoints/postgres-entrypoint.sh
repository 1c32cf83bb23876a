#!/bin/sh
# The official postgres image's entrypoint contract (docker-entrypoint.sh), on this machine's
# PostgreSQL 15: POSTGRES_USER/PASSWORD/DB, POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD, PGDATA,
# and /docker-entrypoint-initdb.d run once, when PGDATA is initialised.
set -eu

if [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi
if [ "$1" != postgres ]; then exec "$@"; fi

if [ "$(id -u)" = 0 ]; then
  # As the image does as root: own the data directory, then run again as postgres.
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  user=${POSTGRES_USER:-postgres}
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]; then
    echo "Error: Database is uninitialized and superuser password is not specified." >&2
    exit 1
  fi
  pwfile=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
  # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a word list, as in the image
  initdb --username="$user" --pwfile="$pwfile" ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA" >/dev/null
  rm -f "$pwfile"
  printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
  printf 'host all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >>"$PGDATA/pg_hba.conf"

  # A server on the Unix socket only, for the initialisation scripts.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  run_psql() { env -u PGHOST -u PGHOSTADDR -u PGPORT psql -v ON_ERROR_STOP=1 --no-psqlrc \
    --username "$user" --no-password "$@"; }
  db=${POSTGRES_DB:-$user}
  if [ "$db" != postgres ]; then
    run_psql --dbname postgres --set db="$db" <<'SQL'
CREATE DATABASE :"db";
SQL
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
      *.sql) run_psql --dbname "$db" -f "$f" ;;
      *.sql.gz) gunzip -c "$f" | run_psql --dbname "$db" ;;
      *.sql.xz) xzcat "$f" | run_psql --dbname "$db" ;;
      */\*) ;;
      *) echo "ignoring $f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "PostgreSQL init process complete; ready for start up."
fi

exec "$@"
