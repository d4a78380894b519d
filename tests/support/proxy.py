"""Requests as a reverse proxy forwards them, and app settings read from the environment by config.py."""

import importlib.util
import os

import mailer

PROXY = "127.0.0.1"  # the proxy's own address, as the app sees the connection
CONFIG_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "config.py")


def app_config_from_environment(monkeypatch, **environment: str) -> None:
    """Set environment variables and have create_app() use config.py's classes as read under them.

    config.py reads the environment once, when it is imported; a fresh copy of the module (not the imported
    one, which other tests share) makes every app this test builds take its settings through that same code.
    """
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("config_under_test", CONFIG_FILE)
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    monkeypatch.setattr(mailer, "CONFIGS", fresh.CONFIGS)


def via_proxy(client: str, forged: str | None = None, headers: dict | None = None) -> dict:
    """Test-client keyword arguments for a request from `client` through one proxy that appends the address it
    saw to whatever X-Forwarded-For the client wrote itself (`forged`)."""
    forwarded = f"{forged}, {client}" if forged else client
    return {
        "headers": {**(headers or {}), "X-Forwarded-For": forwarded},
        "environ_base": {"REMOTE_ADDR": PROXY},
    }
