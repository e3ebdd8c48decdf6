#!/usr/bin/env bash
# The test suite against PostgreSQL, with two real Celery workers consuming the gpu queue from Redis.
# Started and stopped here; skipped, with the reason, when either service is unreachable.
set -euo pipefail

PG_URL=${METAMER_TEST_PG:-postgres://postgres@127.0.0.1:5432}
REDIS_URL=${METAMER_TEST_REDIS:-redis://127.0.0.1:6379/15}
TEST_DB=test_metamer_ci

reachable=$(python - "$PG_URL" "$REDIS_URL" <<'PY'
import sys
import psycopg, redis
try:
    psycopg.connect(sys.argv[1] + "/postgres", connect_timeout=3).close()
except Exception as exc:
    print(f"PostgreSQL unreachable at {sys.argv[1]}: {exc}".replace("\n", " ")); raise SystemExit
try:
    redis.Redis.from_url(sys.argv[2], socket_timeout=3).ping()
except Exception as exc:
    print(f"Redis unreachable at {sys.argv[2]}: {exc}"); raise SystemExit
print("ok")
PY
)
if [ "$reachable" != "ok" ]; then
  echo "SKIPPED the PostgreSQL + Celery pass: $reachable"
  exit 0
fi

work=$(mktemp -d)
export MEDIA_ROOT="$work/media" METAMER_VAR_DIR="$work/var" METAMER_CACHE_DIR="$PWD/var/cache"
# No persistent connections anywhere, so pytest can drop its test database at the end.
export DATABASE_URL="$PG_URL/metamer" METAMER_TEST_DB_NAME=$TEST_DB DATABASE_CONN_MAX_AGE=0
python -m metamer.embedded
# Two workers (an inversion job fans out across both) read and write the test database that
# pytest creates.
workers=()
for name in one two; do
  DATABASE_URL="$PG_URL/$TEST_DB" CELERY_BROKER_URL="$REDIS_URL" \
    celery -A metamer worker -n "$name@%h" -Q gpu,celery --pool solo --concurrency 1 --loglevel WARNING \
    --without-heartbeat --without-gossip --without-mingle >>"$work/worker.log" 2>&1 &
  workers+=($!)
done
cleanup() {
  kill "${workers[@]}" 2>/dev/null || true
  wait "${workers[@]}" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

status=0
CELERY_BROKER_URL="$REDIS_URL" CELERY_TASK_ALWAYS_EAGER=1 METAMER_TEST_WORKER=1 \
  python -m pytest -q --create-db -p no:xdist "$@" || status=$?
if [ $status -ne 0 ]; then
  echo "--- Celery worker log ---"; cat "$work/worker.log"
fi
exit $status
