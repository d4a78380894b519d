"""Long-running processes for deployment tests: start in their own group, poll readiness, stop or SIGKILL."""

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
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


def _die_with_parent(sig: int) -> Callable[[], None]:
    """A preexec_fn asking the kernel to send `sig` to the child when the process that started it dies."""

    def arm() -> None:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)

    return arm


class Process:
    """One long-running command in its own process group, its output appended to a log file."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict,
        log_dir: str,
        user: str | None = None,
        death_signal: int = signal.SIGTERM,
    ):
        self.name, self.argv, self.env, self.user, self.death_signal = name, argv, env, user, death_signal
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.popen: subprocess.Popen | None = None
        self.ready_seen = 0  # "ready" lines already in the log (a restarted command appends to it)

    def start(self) -> "Process":
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                user=self.user,
                preexec_fn=_die_with_parent(self.death_signal),
            )
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
                    if (
                        int(fields[2].rsplit(":", 1)[1], 16) == port
                        and fields[3] == "01"
                        and fields[9] in inodes
                    ):
                        found += 1
        return found

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def wait_exit(self, timeout: float) -> None:
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DeploymentError(
                f"{self.name} (pid {self.pid}) did not exit within {timeout:.0f} s"
            ) from None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        """Ask the whole group to stop; SIGKILL it if it has not after `timeout` seconds."""
        if self.popen is None:
            return
        if self.alive:
            self.signal_group(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
        self.signal_group(signal.SIGKILL)  # stragglers of the group (forked children), if any
        if self.alive:
            self.popen.wait(timeout=10)
