#!/usr/bin/env bash
# `make run`: the main job. Creates/migrates the embedded SQLite database in ./var, loads the
# synthetic demo clinic (idempotent), then serves the app on http://127.0.0.1:8000 in dev mode
# (CDS Hooks JWT checks are off only because the server listens on loopback).
set -euo pipefail
LDN=.venv/bin/ldn
HOST=${LDN_HOST:-127.0.0.1}
PORT=${LDN_PORT:-8000}
$LDN --version
$LDN db upgrade
# Exits 2 on purpose when the database already holds a real clinic: then we just serve it.
$LDN demo-data || echo "(demo data not loaded: the database already holds real data)"
echo
echo "ldn-derm is starting on http://$HOST:$PORT  (registry: http://$HOST:$PORT/registry/ — demo / demo-password)"
exec $LDN serve --dev --host "$HOST" --port "$PORT"
