#!/bin/sh
# Container entrypoint: bring the schema up to date, then run the command (web, worker, scheduler, listener).
# `flask db upgrade` is safe on every start: concurrent starts take turns on a PostgreSQL advisory lock
# (migrations/env.py) and the later ones find nothing to do. MAILER_MIGRATE_ON_START=0 skips it.
set -eu
if [ "${MAILER_MIGRATE_ON_START:-1}" != "0" ]; then
    flask --app wsgi db upgrade
fi
exec "$@"
