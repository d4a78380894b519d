"""The README's Production section run on loopback: its commands, its environment variables and its nginx
snippet, with nginx terminating TLS under a certificate from a throw-away CA (trustme)."""

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

from tests.support.processes import ROOT, DeploymentError, Process, wait_for

BIN = os.path.dirname(sys.executable)  # the virtualenv the tests run in (the README's .venv/bin)
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
BROWSER_SIDE = "127.0.0.2"  # nginx listens here; a client connecting to it has the source address 127.0.0.1
PROXY_SIDE = (
    "127.0.0.3"  # nginx reaches gunicorn from here, so the proxy's address differs from every client's
)


def _production_section() -> str:
    """The README's "## Production" section."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as readme:
        text = readme.read()
    return text[text.index("\n## Production") :].split("\n## ", 2)[1]


def _block(section: str, language: str) -> str:
    """The first fenced code block of a language in a section."""
    match = re.search(rf"```{language}\n(.*?)```", section, re.S)
    assert match, f"the README's Production section has no {language} block"
    return match.group(1)


@dataclass
class ReadmeDeployment:
    """What the README's Production section tells an operator to run."""

    variables: dict[str, str] = field(default_factory=dict)  # the `export` line
    commands: dict[str, list[str]] = field(default_factory=dict)  # "gunicorn", "flask db", ... -> argv
    nginx: str = ""

    @classmethod
    def read(cls) -> "ReadmeDeployment":
        """Parse the section: the exported variables, each `.venv/bin/` command, the nginx snippet."""
        section = _production_section()
        deployment = cls(nginx=_block(section, "nginx"))
        for line in _block(section, "bash").replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] == "export":
                deployment.variables.update(word.split("=", 1) for word in words[1:])
            elif words and words[0].startswith(".venv/bin/"):
                program = words[0].removeprefix(".venv/bin/")
                key = f"{program} {words[3]}" if program == "flask" else program  # flask --app wsgi <command>
                deployment.commands[key] = [os.path.join(BIN, program), *words[1:]]
        return deployment


def replace_once(text: str, old: str, new: str) -> str:
    """Replace text the README must contain (so a change there cannot silently leave the test behind)."""
    assert text.count(old) == 1, f"expected {old!r} once in the README's snippet"
    return text.replace(old, new)


def nginx_config(snippet: str, prefix: str, listen_port: int, upstream_port: int, cert: str, key: str) -> str:
    """The README's server block on loopback ports, inside a
    minimal nginx.conf whose files all live in `prefix`."""
    server = replace_once(snippet, "listen 443 ssl;", f"listen {BROWSER_SIDE}:{listen_port} ssl;")
    server = replace_once(server, "server_name mail.example.com;", f"server_name {BROWSER_SIDE};")
    server = replace_once(server, "/etc/ssl/mail.example.com.pem", cert)
    server = replace_once(server, "/etc/ssl/mail.example.com.key", key)
    server = replace_once(
        server,
        "proxy_pass http://127.0.0.1:8000;",
        f"proxy_pass http://127.0.0.1:{upstream_port};\n        proxy_bind {PROXY_SIDE};",
    )
    temp = "\n".join(
        f"    {kind}_temp_path {prefix}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"daemon off;\nworker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log info;\n"
        f"events {{ worker_connections 256; }}\nhttp {{\n    access_log {prefix}/access.log;\n{temp}\n"
        f"{server}}}\n"
    )


def run_to_end(name: str, argv: list[str], env: dict[str, str], stdin: str = "") -> str:
    """Run a one-off command (a migration, create-admin) to its end; its output, or an error that shows it."""
    done = subprocess.run(argv, cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{name} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def wait_until_listening(process: Process, host: str, port: int, timeout: float = 60) -> None:
    """Poll until the process accepts connections; its exit
    ends the wait at once, and either failure shows its log."""

    def listening() -> bool:
        if not process.alive:
            raise DeploymentError(
                f"{process.name} exited ({process.popen.returncode}):\n{process.log_text()[-4000:]}"
            )
        try:
            socket.create_connection((host, port), timeout=1).close()
            return True
        except OSError:
            return False

    try:
        wait_for(listening, timeout, f"{process.name} on {host}:{port}")
    except DeploymentError as exc:
        raise DeploymentError(f"{exc}\n{process.log_text()[-4000:]}") from None


def shared_temp_directory() -> str:
    """A directory nginx's unprivileged worker can reach (pytest's own tmp tree is private to its user)."""
    path = tempfile.mkdtemp(prefix="mailer-tls-")
    os.chmod(path, 0o755)
    return path
