"""Fault-test harness: a private redis-server and real Celery workers as subprocesses.

The pieces are plain classes so a test (or a script) can drive them directly; the
fixtures in tests/faults/conftest.py build them, point them at the test database and
clean them up. Nothing here touches the machine's shared Redis on 6379: every server
runs on a free port of its own.
"""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The celery of the running interpreter's environment (.venv/bin/celery under make test).
CELERY = Path(sys.executable).parent / "celery"
# The worker imports these besides the app's own tasks (leadflow/settings.py).
TASK_MODULES = "tests.faults.tasks"


class Timeout(AssertionError):
    pass


def wait_for(condition, timeout=20.0, interval=0.1, message=None):
    """Call `condition` until it returns something truthy and return that; after
    `timeout` seconds raise Timeout (an AssertionError) with `message`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Timeout(message or f"not true within {timeout}s: {condition!r}")
        time.sleep(interval)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_pids(pid):
    """The direct children of `pid`, from /proc (Linux)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[1]) == pid and fields[0] != "Z":
            children.append(int(stat.parent.name))
    return sorted(children)


class RedisServer:
    """redis-server on 127.0.0.1:`port` (a free one by default). Without persistence (as in
    docker-compose.yml) a stop loses every key; persist=True keeps them in an append-only
    file in `workdir`, so a restarted server has its queues and unacknowledged tasks back.

    start() waits until it answers PING; stop() sends SIGTERM (kill=True: SIGKILL) and
    waits for the exit; pause()/resume() freeze it with SIGSTOP/SIGCONT (the socket stays
    open but nothing answers, like a hung server or a network partition)."""

    def __init__(self, workdir, port=None, persist=False):
        self.port = port or free_port()
        self.persist = persist
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = None
        self.starts = 0

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout=10):
        assert self.proc is None or self.proc.poll() is not None, "redis-server already runs"
        self.starts += 1
        log = (self.workdir / f"redis-{self.port}-{self.starts}.log").open("w")
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes" if self.persist else "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_for(self.ping, timeout, message=f"redis-server on {self.port} did not start")
        return self

    def ping(self):
        """True when the server answers PING within half a second."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, kill=False, timeout=10):
        if not self.running:
            return
        self.resume()
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        self.proc.wait(timeout)

    def restart(self, down_for=0.0, kill=False):
        """Stop, stay down `down_for` seconds, start again on the same port."""
        self.stop(kill=kill)
        time.sleep(down_for)
        self.start()

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        if self.running:
            self.proc.send_signal(signal.SIGCONT)

    def client(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, db=0, socket_timeout=5)

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.stop(kill=True)


class Worker:
    """`celery -A leadflow worker` with a prefork pool, its output in `log_path`.

    The worker leads its own process group, so kill() reaches the pool children too (a
    kill -9 of the whole worker as the kernel's OOM killer or a lost node would do)."""

    def __init__(
        self, env, log_path, queues=("celery",), concurrency=1, name=None, args=(), celery=CELERY
    ):
        self.env = env
        self.log_path = Path(log_path)
        self.name = name or f"faults-{os.getpid()}-{self.log_path.stem}"
        self.cmd = [
            str(celery),
            "-A",
            "leadflow",
            "worker",
            "--loglevel=INFO",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            "-Q",
            ",".join(queues),
            f"--hostname={self.name}@%h",
            *args,
        ]
        self.proc = None

    def start(self, ready_timeout=30):
        log = self.log_path.open("a")
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        if ready_timeout:
            self.wait_ready(ready_timeout)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_count(self, pattern):
        """How many times the regular expression `pattern` occurs in the log."""
        return len(re.findall(pattern, self.log()))

    def wait_log(self, pattern, timeout=20, count=1):
        """Wait until `pattern` (a regular expression) occurs `count` times in the log;
        fails early, with the log's tail, when the worker exits first."""

        def seen():
            if self.log_count(pattern) >= count:
                return True
            assert self.alive(), self.exit_report()
            return False

        wait_for(seen, timeout, message=f"{pattern!r} x{count} not in the log:\n{self.tail()}")

    def wait_ready(self, timeout=30):
        self.wait_log(r"\bready\.", timeout)

    def exit_report(self):
        crash = "\n".join(self.unrecoverable())
        return f"worker exited ({self.proc.returncode}): {crash}\n{self.tail()}"

    def tail(self, lines=60):
        return "\n".join(self.log().splitlines()[-lines:])

    def unrecoverable(self):
        """The 'Unrecoverable error' lines of the log (the worker's fatal crashes)."""
        return [line for line in self.log().splitlines() if "Unrecoverable error" in line]

    def pool_pids(self):
        """The prefork pool's child processes."""
        return child_pids(self.pid) if self.alive() else []

    def pool_pid(self, timeout=10):
        """The one pool child (concurrency=1), waiting for it to be forked."""
        return wait_for(lambda: (self.pool_pids() or [None])[0], timeout, message="no pool child")

    def kill_pool_child(self, sig=signal.SIGKILL):
        pid = self.pool_pid()
        os.kill(pid, sig)
        return pid

    def kill(self, sig=signal.SIGKILL):
        """Signal the worker and its pool at once (kill -9 of the whole worker)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        self.proc.wait(10)

    def stop(self, timeout=15):
        """Warm shutdown (SIGTERM), then SIGKILL for whatever is left."""
        if self.proc is None:
            return
        if self.alive():
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout)
        self.kill()


class Journal:
    """The file a task in tests/faults/tasks.py writes its events to, one per line."""

    def __init__(self, path):
        self.path = Path(path)

    def __str__(self):
        return str(self.path)

    def lines(self):
        try:
            return [line.split() for line in self.path.read_text().splitlines()]
        except FileNotFoundError:
            return []

    def count(self, event):
        return sum(1 for line in self.lines() if line[0] == event)

    def starts(self):
        """(pid, redelivered) of every run that started."""
        return [(int(line[1]), line[2] == "True") for line in self.lines() if line[0] == "start"]

    def wait(self, event, count=1, timeout=20, worker=None):
        """Wait until `event` ("start", "done", …) was written `count` times; with `worker`,
        a failure shows its log."""

        def seen():
            return self.count(event) >= count

        tail = (lambda: "\n" + worker.tail()) if worker else (lambda: "")
        try:
            wait_for(seen, timeout)
        except Timeout:
            raise Timeout(
                f"{event!r} x{count} not in {self.path.name}: {self.lines()}{tail()}"
            ) from None


class Client:
    """Publishes tasks by name to a RedisServer, as the web process would, over one
    connection of its own (the test process's eager app stays as it is)."""

    def __init__(self, redis):
        from celery import Celery

        self.app = Celery("faults-client", broker=redis.url, set_as_current=False)
        # The URL given here: Celery would prefer CELERY_BROKER_URL from the environment.
        self.connection = self.app.connection_for_write(redis.url)

    def send(self, name, *args, queue="celery", **options):
        return self.app.send_task(
            name, args=args, queue=queue, connection=self.connection, **options
        )

    def sleep(self, seconds, journal, **options):
        return self.send("tests.faults.tasks.sleep_task", seconds, str(journal), **options)

    def close(self):
        self.connection.close()
        self.app.close()


def database_url(connection):
    """The DATABASE_URL of `connection`'s database (the test database under pytest-django),
    for the worker subprocesses."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def worker_env(redis, database, **extra):
    """The environment of a worker on `redis` and the `database` URL; `extra` adds or
    overrides variables (CELERY_VISIBILITY_TIMEOUT="5", REDIS_CHANNEL_GUARD="0", …)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "leadflow.settings",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "DATABASE_URL": database,
        "CELERY_BROKER_URL": redis.url,
        "CELERY_RESULT_BACKEND": redis.url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "LEADFLOW_EXTRA_TASK_MODULES": TASK_MODULES,
    }
    env.update({key: str(value) for key, value in extra.items()})
    return env
