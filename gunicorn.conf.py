"""gunicorn's settings for every shipped web command (Dockerfile, docker-compose.yml,
scripts/api_contract.sh, README): ``gunicorn -c gunicorn.conf.py``. Flags on the command
line override them; so does ``GUNICORN_CMD_ARGS``.

Threads, not sync workers. A sync worker tells the arbiter it is alive only between
requests, so ``timeout`` caps every request: the CSV export of a million leads
(``/leads/export.csv``, over 30 s) was killed mid-stream after gunicorn's default 30 s,
and the client, which had its 200 and half a file, could not tell. A gthread worker's main
thread keeps telling the arbiter while its threads serve, so a long streamed answer runs
to its end and ``timeout`` only restarts a worker whose main loop hangs
(tests/leads/test_export_gunicorn.py shows both). Each worker serves ``threads`` requests
at once, each on its own database connection. With ``threads`` above 1 gunicorn runs
gthread whatever ``--worker-class`` says: a sync worker needs ``--threads 1`` too.
"""

import os

wsgi_app = "leadflow.wsgi:application"
bind = [f"0.0.0.0:{os.environ.get('PORT', '8000')}"]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = 4
timeout = 120
# On a restart or stop, requests in flight (an export) get this long to finish; keep it
# below what the process manager waits before SIGKILL (docker-compose.yml: 75 s).
graceful_timeout = 60
keepalive = 5
accesslog = "-"
