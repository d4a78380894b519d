"""A production deployment on this machine, run the way the README's Production section says, for fault tests.

Its own PostgreSQL cluster and Redis on spare ports (so they can be stopped and restarted),
`flask db upgrade`, `create-admin`, gunicorn, two `dramatiq mailer.worker` processes and the scheduler. Every
process gets a parent-death signal and is stopped on close, so nothing outlives the test or benchmark that
started it.
"""

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile

import psycopg
import requests
from cryptography.fernet import Fernet

from tests.support.http import csrf_token, login
from tests.support.processes import ROOT, DeploymentError, Process, free_port, wait_for

BIN = os.path.dirname(sys.executable)
PG_BIN = "/usr/lib/postgresql/15/bin"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
ADMIN_EMAIL = "owner@example.com"


def require_tools() -> None:
    """Fail loudly (never skip) when the machine lacks what a production deployment needs."""
    missing = [
        path
        for path in (
            f"{PG_BIN}/initdb",
            f"{PG_BIN}/postgres",
            REDIS_SERVER,
            f"{BIN}/gunicorn",
            f"{BIN}/dramatiq",
            f"{BIN}/flask",
        )
        if not os.path.exists(path)
    ]
    if missing:
        raise DeploymentError(f"missing for a production deployment: {', '.join(missing)}")


class Postgres:
    """A throw-away PostgreSQL 15 cluster in a temp directory
    (fsync off: only the OS could lose its writes)."""

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
        subprocess.run(
            [
                f"{PG_BIN}/initdb",
                "-D",
                self.data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            user=self.user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=180,
            cwd=self.directory,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 120) -> None:
        argv = [
            f"{PG_BIN}/postgres",
            "-D",
            self.data,
            "-p",
            str(self.port),
            "-k",
            self.directory,
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "max_connections=200",
        ]
        # SIGQUIT is PostgreSQL's immediate shutdown: what should happen if the harness itself is killed.
        self.process = Process(
            "postgres", argv, dict(os.environ), self.directory, user=self.user, death_signal=signal.SIGQUIT
        ).start()
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
    """A Redis server with no persistence, so a restart
    empties it (broker queues and rate bucket included)."""

    def __init__(self, directory: str, port: int):
        self.directory, self.port = directory, port
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 60) -> None:
        argv = [
            REDIS_SERVER,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self.directory,
        ]
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
    """The admin over HTTP as a browser behind the TLS proxy
    uses it: cookies, CSRF tokens, forwarded headers."""

    def __init__(self, base_url: str):
        self.base = base_url
        self.session = requests.Session()
        # What the README's reverse proxy (PROXY_FIX_X_FOR=1) adds; the app then sets Secure cookies.
        self.session.headers.update(
            {
                "X-Forwarded-Proto": "https",
                "X-Forwarded-For": "198.51.100.7",
                "User-Agent": "Mozilla/5.0 (fault bench)",
            }
        )

    def _after(self, response: requests.Response) -> requests.Response:
        for (
            cookie
        ) in self.session.cookies:  # the proxy speaks TLS to the browser; loopback to us is plain HTTP
            cookie.secure = False
        return response

    def _url(self, path: str) -> str:
        """Our loopback URL for a path, or for an absolute URL under the public origin (a Location header)."""
        return self.base + ("/" + path.split("://", 1)[1].split("/", 1)[1] if "://" in path else path)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self._after(self.session.get(self._url(path), timeout=60, allow_redirects=False, **kwargs))

    def post(self, path: str, data=None, **kwargs) -> requests.Response:
        """A form post with the Referer a browser sends (the
        public https origin, as the CSRF check demands)."""
        headers = {"Referer": "https://" + self.base.split("://", 1)[1] + "/admin/"}
        return self._after(
            self.session.post(
                self._url(path), data=data, headers=headers, timeout=120, allow_redirects=False, **kwargs
            )
        )

    def post_form(self, page: str, action: str, data: dict | list) -> requests.Response:
        """Open `page`, take its CSRF token and post `data` to `action` (like pressing the form's button)."""
        token = csrf_token(self.get(page).text)
        fields = list(data.items()) if isinstance(data, dict) else list(data)
        return self.post(action, [*fields, ("csrf_token", token)])

    def login(self, email: str, password: str) -> None:
        """The login form, then the second factor (enrolling the authenticator app the first time)."""
        login(self, email, password)


class Deployment:
    """PostgreSQL, Redis, migrations, an owner account, gunicorn, dramatiq workers and the scheduler."""

    def __init__(
        self,
        smtp_url: str,
        settings: dict[str, str] | None = None,
        workers: int = 2,
        worker_threads: int = 4,
        web_workers: int = 2,
        web_threads: int = 4,
    ):
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

    # --- lifecycle ------------------------------------------------------------------------------------------

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
        self.env = dict(
            os.environ,
            MAILER_ENV="production",
            SECRET_KEY=secrets.token_urlsafe(32),
            MAILER_HASH_KEY=secrets.token_urlsafe(32),
            DATABASE_URL=database_url,
            REDIS_URL=self.redis.url,
            SMTP_URL=self.smtp_url,
            MAILER_BASE_URL="https://mail.example.com",
            MAILER_FROM="News <news@example.com>",
            MAILER_POSTAL_ADDRESS="Example Ltd, 1 Main St, Berlin",
            PROXY_FIX_X_FOR="1",
            # Staff second-factor secrets (and DKIM keys) are sealed with it: without it an owner's
            # first login cannot enrol an authenticator app.
            MAILER_DATA_KEYS=Fernet.generate_key().decode(),
            **self.settings,
        )
        for name in ("TEST_DATABASE_URL", "TEST_REDIS_URL", "FLASK_APP"):
            self.env.pop(name, None)
        self.flask("db", "upgrade", timeout=300)
        self.flask("create-admin", ADMIN_EMAIL, "--password", self.password, timeout=120)
        self.web = Process(
            "gunicorn",
            [
                f"{BIN}/gunicorn",
                "-w",
                str(self.web_workers),
                "--threads",
                str(self.web_threads),
                "-b",
                f"127.0.0.1:{self.web_port}",
                "wsgi:app",
            ],
            self.env,
            self.tmp,
        ).start()
        self.scheduler = Process(
            "scheduler", [f"{BIN}/flask", "--app", "wsgi", "scheduler"], self.env, self.tmp
        ).start()
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
        done = subprocess.run(
            [f"{BIN}/flask", "--app", "wsgi", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            raise DeploymentError(
                f"flask {args[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
            )
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

    # --- workers --------------------------------------------------------------------------------------------

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
        return wait_for(
            lambda: (self.workers[index].children() or [None])[0], 30, "the dramatiq worker process"
        )

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

    # --- backing services -----------------------------------------------------------------------------------

    def restart_redis(self) -> None:
        """Stop Redis (its data goes: no persistence) and start it again on the same port."""
        self.redis.stop()
        self.redis.start()

    def stop_postgres(self) -> None:
        self.postgres.fast_stop()

    def start_postgres(self) -> None:
        self.postgres.start()
