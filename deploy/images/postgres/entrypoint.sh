#!/bin/sh
# The entrypoint of the local stand-in for the official postgres image (tools/base_images.py builds
# it from Debian's postgresql-15 where no registry can be reached). It keeps the part of the official
# image's interface the compose files use: POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB make the
# superuser and the database on first start, in PGDATA (/var/lib/postgresql/data); the server listens
# on every address with password authentication, and stops cleanly on SIGTERM (it is PID 1).
set -eu
: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /run/postgresql
    chown postgres:postgres "$PGDATA" /run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

user="${POSTGRES_USER:-postgres}"
database="${POSTGRES_DB:-$user}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?the stand-in postgres image needs POSTGRES_PASSWORD, as the official one does}"
    password_file="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$password_file"
    initdb --username="$user" --pwfile="$password_file" --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 >/dev/null
    rm -f "$password_file"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    if [ "$database" != postgres ]; then
        # The single-user backend: no server listens while the database is made, so nothing can
        # connect to a half-initialised cluster (the healthcheck included).
        echo "CREATE DATABASE \"$database\" OWNER \"$user\";" | postgres --single -D "$PGDATA" -j postgres >/dev/null
    fi
    echo "stand-in postgres: initialised $PGDATA with user $user and database $database"
fi

exec postgres -c listen_addresses='*' "$@"
