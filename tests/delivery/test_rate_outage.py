"""A Redis restart only delays sending: the shared rate bucket waits for Redis instead of failing."""

import socket
import subprocess
import threading
import time

import redis

from mailer.delivery.ratelimit import RedisBucket, SendRate


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _until(condition, timeout: float, what: str) -> None:
    """Poll a condition with a deadline (not a sleep used as synchronisation)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _redis(port: int, directory) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_connect_timeout=0.5)
    _until(lambda: _answers(client), timeout=10, what="redis-server to start")
    return process


def _answers(client) -> bool:
    try:
        return client.ping()
    except redis.ConnectionError:
        return False


def test_the_rate_bucket_waits_out_a_redis_restart(tmp_path):
    port = _free_port()
    server = _redis(port, tmp_path)
    try:
        client = redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=0.5)
        limiter = SendRate(RedisBucket(client, "mailer-test-send-rate", rate=100))
        assert limiter.acquire(1) == 1
        server.terminate()
        server.wait(timeout=10)

        checks, granted = [], []
        waiter = threading.Thread(
            target=lambda: granted.append(limiter.acquire(1, lambda: checks.append(1) and False))
        )
        waiter.start()
        _until(lambda: len(checks) >= 2, timeout=20, what="the limiter to keep waiting while Redis is down")
        assert waiter.is_alive() and not granted  # waiting, not failed

        server = _redis(port, tmp_path)  # Redis is back (empty, like a restart without persistence)
        waiter.join(timeout=20)
        assert granted == [1]
    finally:
        server.terminate()
        server.wait(timeout=10)
