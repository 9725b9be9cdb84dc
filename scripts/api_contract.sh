#!/usr/bin/env bash
# Contract test of the JSON API: schemathesis fuzzes every operation of /api/v1/schema/
# against a live gunicorn on a small seeded SQLite database, as the manager (who may do
# everything) and as a salesperson, and fails on any server error, any response that does
# not match the schema, or any traceback in the server's log. CI runs it (.ci/run); by
# hand: scripts/api_contract.sh [extra schemathesis arguments].
# SCHEMATHESIS_EXAMPLES (default 20) bounds the examples per operation, SCHEMATHESIS_SEED
# (default 1) makes the run repeatable.
#
# One schemathesis worker thread, on purpose. Hypothesis describes lambdas with ast.parse
# and caches the result in unlocked LRU caches; with two threads on CPython 3.11.7 that
# crashes the tool ("SystemError: AST constructor recursion depth mismatch", or a KeyError
# from hypothesis/internal/lambda_sources.py) and schemathesis reports "Runtime Error" on an
# operation that is fine. ast.parse from two threads reproduces the SystemError on its own.
# A crash of the tool is still reported, but named as the tool's, not as an API finding.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A database of its own, tasks inline: nothing here touches the developer's data or broker.
export DATABASE_URL="sqlite:///$work/contract.sqlite3"
export CELERY_BROKER_URL="memory://"
export CELERY_TASK_ALWAYS_EAGER=1
export CACHE_URL="locmemcache://"
export DEBUG=1 EMAIL_URL="dummymail://" LOG_LEVEL=ERROR
# The fuzzer creates webhook endpoints at any public address it makes up: post to none.
export WEBHOOK_SENDING=0

"$VENV/bin/python" manage.py migrate --noinput -v0
"$VENV/bin/python" manage.py seed_demo --leads 200 --seed 7 >/dev/null
# A webhook endpoint with id 1, which path ids reach (posting is off, see above).
"$VENV/bin/python" manage.py shell -c 'from leadflow.models import WebhookEndpoint
WebhookEndpoint.objects.create(url="http://127.0.0.1:9/contract", events=["lead.created"], secret="whsec_contract")'
# Random ids would almost all be 404s: most path ids, users and campaigns are drawn from
# rows that exist, so the actions reach their services.
"$VENV/bin/python" scripts/schemathesis_config.py > "$work/schemathesis.toml"
port=$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# gunicorn.conf.py, as shipped (gthread workers); its access log on stdout is not needed.
"$VENV/bin/gunicorn" -c gunicorn.conf.py --bind "127.0.0.1:$port" --workers 2 \
  --log-level warning >/dev/null 2>"$work/server.log" &
server=$!
base="http://127.0.0.1:$port"
# Up when /health/ answers; then the schema is built once, however long that takes on a
# busy machine (a retry while the first build still runs made drf-spectacular's
# extension loading race between two threads and answer 500).
"$VENV/bin/python" - "$base" <<'PY'
import sys, time, urllib.error, urllib.request
for attempt in range(120):
    try:
        urllib.request.urlopen(sys.argv[1] + "/health/", timeout=5).read()
        break
    except urllib.error.HTTPError:
        break  # answering, if not healthy: the schema decides
    except OSError:
        if attempt == 119:
            raise
        time.sleep(0.5)
urllib.request.urlopen(sys.argv[1] + "/api/v1/schema/", timeout=300).read()
PY

status=0
for who in manager rep1; do
  token=$("$VENV/bin/python" manage.py create_api_token "$who" --name contract | awk '{print $NF}')
  echo "--- schemathesis as $who ---"
  run_status=0
  "$VENV/bin/schemathesis" --config-file "$work/schemathesis.toml" run "$base/api/v1/schema/" \
    --checks not_a_server_error,response_schema_conformance \
    --header "Authorization: Token $token" \
    --max-examples "${SCHEMATHESIS_EXAMPLES:-20}" \
    --seed "${SCHEMATHESIS_SEED:-1}" \
    --workers 1 \
    --request-timeout 30 \
    --suppress-health-check all \
    --report junit --report-junit-path "$work/junit-$who.xml" \
    "$@" || run_status=$?
  # schemathesis exits 1 both for a finding and for its own crash; the JUnit report tells
  # them apart (<failure>: a check failed on LeadFlow's answer; <error>: the run broke).
  "$VENV/bin/python" scripts/contract_verdict.py "$work/junit-$who.xml" "$who" "$run_status" \
    || status=1
done
# Django logs every 500 as "Internal Server Error: <path>" with its traceback.
if grep -q "Internal Server Error" "$work/server.log"; then
  echo "API FINDING: the server answered 500:" >&2
  cat "$work/server.log" >&2
  status=1
fi
exit "$status"
