"""A production deployment on this machine, run the way the README's Production section says, for fault tests.

Its own PostgreSQL cluster and Redis on spare ports (so they can be stopped and restarted), `flask db upgrade`,
`create-admin`, gunicorn, two `dramatiq mailer.worker` processes and the scheduler. Every process gets a
parent-death signal and is stopped on close, so nothing outlives the test or benchmark that started it.
"""
import ctypes
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import psycopg
import requests

from tests.support.http import csrf_token

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
PG_BIN = "/usr/lib/postgresql/15/bin"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
ADMIN_EMAIL = "owner@example.com"
PR_SET_PDEATHSIG = 1


class DeploymentError(RuntimeError):
    """A component did not start, stop or answer in time."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.1):
    """Poll `condition` until it returns something truthy; raise DeploymentError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise DeploymentError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)  # polling interval of a condition check


def require_tools() -> None:
    """Fail loudly (never skip) when the machine lacks what a production deployment needs."""
    missing = [path for path in (f"{PG_BIN}/initdb", f"{PG_BIN}/postgres", REDIS_SERVER, f"{BIN}/gunicorn",
                                 f"{BIN}/dramatiq", f"{BIN}/flask") if not os.path.exists(path)]
    if missing:
        raise DeploymentError(f"missing for a production deployment: {', '.join(missing)}")


def _die_with_parent(sig: int) -> Callable[[], None]:
    """A preexec_fn asking the kernel to send `sig` to the child when the process that started it dies."""
    def arm() -> None:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    return arm


class Process:
    """One long-running command in its own process group, its output appended to a log file."""

    def __init__(self, name: str, argv: list[str], env: dict, log_dir: str, user: str | None = None,
                 death_signal: int = signal.SIGTERM):
        self.name, self.argv, self.env, self.user, self.death_signal = name, argv, env, user, death_signal
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.popen: subprocess.Popen | None = None
        self.ready_seen = 0  # "ready" lines already in the log (a restarted command appends to it)

    def start(self) -> "Process":
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True, user=self.user,
                                          preexec_fn=_die_with_parent(self.death_signal))
        return self

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_text(self) -> str:
        with open(self.log_path, "rb") as handle:
            return handle.read().decode("utf-8", errors="replace")

    def children(self) -> list[int]:
        """Processes this one forked (dramatiq's worker processes, gunicorn's workers)."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as handle:
                        if int(handle.read().rsplit(")", 1)[1].split()[1]) == self.pid:
                            found.append(int(entry))
                except (OSError, IndexError, ValueError):
                    continue
        return found

    def connections_to(self, port: int) -> int:
        """Open TCP connections from this process and its children to a local port (e.g. the SMTP relay's)."""
        inodes = set()
        for pid in [self.pid, *self.children()]:
            try:
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
            except OSError:
                continue
        found = 0
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as handle:
                for line in handle.readlines()[1:]:
                    fields = line.split()
                    # remote address field: hex IP:port; state 01 is ESTABLISHED
                    if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[3] == "01" and fields[9] in inodes:
                        found += 1
        return found

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass

    def wait_exit(self, timeout: float) -> None:
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DeploymentError(f"{self.name} (pid {self.pid}) did not exit within {timeout:.0f} s") from None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        """Ask the whole group to stop; SIGKILL it if it has not after `timeout` seconds."""
        if self.popen is None:
            return
        if self.alive:
            self.signal_group(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        self.signal_group(signal.SIGKILL)  # stragglers of the group (forked children), if any
        if self.alive:
            self.popen.wait(timeout=10)


class Postgres:
    """A throw-away PostgreSQL 15 cluster in a temp directory (fsync off: only the OS could lose its writes)."""

    def __init__(self, directory: str, port: int):
        self.directory, self.port = directory, port
        self.data = os.path.join(directory, "pgdata")
        self.user = "postgres" if os.geteuid() == 0 else None  # initdb refuses to run as root
        self.process: Process | None = None

    def init(self) -> None:
        os.makedirs(self.data, exist_ok=True)
        if self.user:
            entry = pwd.getpwnam(self.user)
            for path in (self.directory, self.data):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        subprocess.run([f"{PG_BIN}/initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                        "--no-sync"], check=True, user=self.user, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=180, cwd=self.directory)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 120) -> None:
        argv = [f"{PG_BIN}/postgres", "-D", self.data, "-p", str(self.port), "-k", self.directory,
                "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200"]
        # SIGQUIT is PostgreSQL's immediate shutdown: what should happen if the harness itself is killed.
        self.process = Process("postgres", argv, dict(os.environ), self.directory, user=self.user,
                               death_signal=signal.SIGQUIT).start()
        wait_for(self.ready, timeout, f"PostgreSQL on port {self.port}", interval=0.2)

    def ready(self) -> bool:
        try:
            with psycopg.connect(self.url(), connect_timeout=3):
                return True
        except psycopg.OperationalError:
            if not self.process.alive:
                raise DeploymentError("PostgreSQL exited:\n" + self.process.log_text()[-2000:]) from None
            return False

    def fast_stop(self, timeout: float = 60) -> None:
        """PostgreSQL's fast shutdown (SIGINT): roll back open transactions, disconnect everyone, stop."""
        self.process.signal_group(signal.SIGINT)
        self.process.wait_exit(timeout)

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        if self.process is not None:
            self.process.stop(signal.SIGQUIT, timeout=30)


class Redis:
    """A Redis server with no persistence, so a restart empties it (broker queues and rate bucket included)."""

    def __init__(self, directory: str, port: int):
        self.directory, self.port = directory, port
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 60) -> None:
        argv = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", self.directory]
        self.process = Process("redis", argv, dict(os.environ), self.directory).start()
        wait_for(self.ready, timeout, f"Redis on port {self.port}")

    def ready(self) -> bool:
        import redis

        try:
            return redis.Redis(port=self.port, socket_timeout=2).ping()
        except redis.RedisError:
            return False

    def stop(self, timeout: float = 30) -> None:
        self.process.stop(signal.SIGTERM, timeout=timeout)

    def close(self) -> None:
        if self.process is not None:
            self.process.stop(signal.SIGTERM, timeout=10)


class AdminClient:
    """The admin over HTTP as a browser behind the TLS proxy uses it: cookies, CSRF tokens, forwarded headers."""

    def __init__(self, base_url: str):
        self.base = base_url
        self.session = requests.Session()
        # What the README's reverse proxy (PROXY_FIX_X_FOR=1) adds; the app then sets Secure cookies.
        self.session.headers.update({"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7",
                                     "User-Agent": "Mozilla/5.0 (fault bench)"})

    def _after(self, response: requests.Response) -> requests.Response:
        for cookie in self.session.cookies:  # the proxy speaks TLS to the browser; loopback to us is plain HTTP
            cookie.secure = False
        return response

    def get(self, path: str, **kwargs) -> requests.Response:
        return self._after(self.session.get(self.base + path, timeout=60, allow_redirects=False, **kwargs))

    def post_form(self, page: str, action: str, data: dict | list) -> requests.Response:
        """Open `page`, take its CSRF token and post `data` to `action` (like pressing the form's button)."""
        token = csrf_token(self.get(page).text)
        fields = list(data.items()) if isinstance(data, dict) else list(data)
        # The browser's Referer: the page it was on, under the public (https) origin, as CSRF checks demand.
        referer = "https://" + self.base.split("://", 1)[1] + page
        return self._after(self.session.post(self.base + action, data=[*fields, ("csrf_token", token)],
                                             headers={"Referer": referer}, timeout=120, allow_redirects=False))

    def login(self, email: str, password: str) -> None:
        response = self.post_form("/admin/login", "/admin/login", {"email": email, "password": password})
        if response.status_code != 302:
            raise DeploymentError(f"admin login answered {response.status_code}: {response.text[:300]}")


class Deployment:
    """PostgreSQL, Redis, migrations, an owner account, gunicorn, dramatiq workers and the scheduler."""

    def __init__(self, smtp_url: str, settings: dict[str, str] | None = None, workers: int = 2,
                 worker_threads: int = 4, web_workers: int = 2, web_threads: int = 4):
        require_tools()
        self.tmp = tempfile.mkdtemp(prefix="mailer-deployment-")
        os.chmod(self.tmp, 0o755)
        self.postgres = Postgres(os.path.join(self.tmp, "pg"), free_port())
        self.redis = Redis(self.tmp, free_port())
        self.web_port = free_port()
        self.smtp_url, self.settings = smtp_url, dict(settings or {})
        self.worker_count, self.worker_threads = workers, worker_threads
        self.web_workers, self.web_threads = web_workers, web_threads
        self.password = secrets.token_urlsafe(18)
        self.env: dict[str, str] = {}
        self.web: Process | None = None
        self.scheduler: Process | None = None
        self.workers: list[Process] = []

    # --- lifecycle -------------------------------------------------------------------------------------------

    def __enter__(self) -> "Deployment":
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        self.postgres.init()
        self.postgres.start()
        self.redis.start()
        database_url = self.postgres.create_database("mailer")
        self.env = dict(os.environ, MAILER_ENV="production", SECRET_KEY=secrets.token_urlsafe(32),
                        MAILER_HASH_KEY=secrets.token_urlsafe(32), DATABASE_URL=database_url,
                        REDIS_URL=self.redis.url, SMTP_URL=self.smtp_url,
                        MAILER_BASE_URL="https://mail.example.com", MAILER_FROM="News <news@example.com>",
                        MAILER_POSTAL_ADDRESS="Example Ltd, 1 Main St, Berlin", PROXY_FIX_X_FOR="1",
                        **self.settings)
        for name in ("TEST_DATABASE_URL", "TEST_REDIS_URL", "FLASK_APP"):
            self.env.pop(name, None)
        self.flask("db", "upgrade", timeout=300)
        self.flask("create-admin", ADMIN_EMAIL, "--password", self.password, timeout=120)
        self.web = Process("gunicorn", [f"{BIN}/gunicorn", "-w", str(self.web_workers), "--threads",
                                        str(self.web_threads), "-b", f"127.0.0.1:{self.web_port}", "wsgi:app"],
                           self.env, self.tmp).start()
        self.scheduler = Process("scheduler", [f"{BIN}/flask", "--app", "wsgi", "scheduler"], self.env,
                                 self.tmp).start()
        self.workers = [self._worker(index) for index in range(self.worker_count)]
        for index in range(self.worker_count):
            self.wait_worker_ready(index)
        wait_for(self.web_ready, 180, "gunicorn to answer /healthz", interval=0.25)
        wait_for(lambda: "Scheduler running" in self.scheduler.log_text(), 120, "the scheduler")

    def close(self) -> None:
        """Stop everything this deployment started, in reverse order, and remove its files."""
        for process in [*self.workers, self.scheduler, self.web]:
            if process is not None:
                process.stop(signal.SIGTERM, timeout=20)
        self.redis.close()
        self.postgres.close()
        if os.environ.get("KEEP_DEPLOYMENT_LOGS"):
            print(f"deployment logs kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def flask(self, *args: str, timeout: float = 120) -> str:
        """Run `flask --app wsgi ARGS` with the deployment's environment; its output, or DeploymentError."""
        done = subprocess.run([f"{BIN}/flask", "--app", "wsgi", *args], env=self.env, cwd=ROOT,
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise DeploymentError(f"flask {args[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def web_ready(self) -> bool:
        if not self.web.alive:
            raise DeploymentError("gunicorn exited:\n" + self.web.log_text()[-3000:])
        try:
            return requests.get(f"{self.base_url}/healthz", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def admin(self) -> AdminClient:
        """A logged-in owner."""
        client = AdminClient(self.base_url)
        client.login(ADMIN_EMAIL, self.password)
        return client

    def database(self) -> psycopg.Connection:
        """A direct connection to the app's database (for reading what the product recorded)."""
        return psycopg.connect(self.env["DATABASE_URL"], autocommit=True, connect_timeout=5)

    # --- workers ---------------------------------------------------------------------------------------------

    def _worker(self, index: int) -> Process:
        argv = [f"{BIN}/dramatiq", "mailer.worker", "-p", "1", "-t", str(self.worker_threads)]
        return Process(f"worker{index}", argv, self.env, self.tmp).start()

    def wait_worker_ready(self, index: int, timeout: float = 180) -> None:
        process = self.workers[index]
        before = process.ready_seen

        def ready() -> bool:
            if not process.alive:
                raise DeploymentError(f"{process.name} exited:\n" + process.log_text()[-3000:])
            return process.log_text().count("ready for action") > before
        wait_for(ready, timeout, f"{process.name} to be ready", interval=0.2)
        process.ready_seen = before + 1

    def worker_process_pid(self, index: int) -> int:
        """The pid of the process doing the work (dramatiq forks it from the command's main process)."""
        return wait_for(lambda: (self.workers[index].children() or [None])[0], 30, "the dramatiq worker process")

    def busiest_worker(self, smtp_port: int) -> int:
        """The worker with the most SMTP connections open to the relay (the one with mail in flight)."""
        return max(range(len(self.workers)), key=lambda i: self.workers[i].connections_to(smtp_port))

    def kill_worker(self, index: int) -> None:
        """SIGKILL the worker process; dramatiq's main process then shuts down (as a crash would leave it)."""
        os.kill(self.worker_process_pid(index), signal.SIGKILL)
        self.workers[index].wait_exit(60)
        self.workers[index].signal_group(signal.SIGKILL)  # nothing of it survives

    def restart_worker(self, index: int) -> None:
        """Start the worker command again (what a process supervisor does) and wait until it is ready."""
        old = self.workers[index]
        if old.alive:
            raise DeploymentError(f"{old.name} is still running")
        self.workers[index] = Process(old.name, old.argv, old.env, self.tmp).start()
        self.workers[index].ready_seen = old.ready_seen
        self.wait_worker_ready(index)

    # --- backing services ------------------------------------------------------------------------------------

    def restart_redis(self) -> None:
        """Stop Redis (its data goes: no persistence) and start it again on the same port."""
        self.redis.stop()
        self.redis.start()

    def stop_postgres(self) -> None:
        self.postgres.fast_stop()

    def start_postgres(self) -> None:
        self.postgres.start()
