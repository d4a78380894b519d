"""The container files: Dockerfile linted with hadolint, compose.yaml checked against the Compose
specification's schema, the entrypoint valid shell. (CI also builds the image when a container engine works:
.ci/run.)"""

import os
import re
import subprocess
import sys
import tomllib

import yaml

from mailer import ROOT

BIN = os.path.dirname(sys.executable)


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_dockerfile_passes_hadolint_and_runs_as_a_non_root_user():
    result = _run(f"{BIN}/hadolint", "--failure-threshold", "info", "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr
    with open(os.path.join(ROOT, "Dockerfile")) as handle:
        dockerfile = handle.read()
    assert re.search(r"^USER 10001:10001$", dockerfile, re.M)
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm$", dockerfile, re.M)  # a version
    assert "-c deploy/constraints.txt" in dockerfile


def test_compose_matches_the_compose_schema_and_has_every_process():
    result = _run(f"{BIN}/check-jsonschema", "--builtin-schema", "vendor.compose-spec", "compose.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    with open(os.path.join(ROOT, "compose.yaml")) as handle:
        services = yaml.safe_load(handle)["services"]
    assert {"init", "web", "worker", "scheduler", "bounces", "db", "redis"} <= set(services)
    assert services["bounces"]["profiles"] == ["bounces"]
    assert services["scheduler"]["command"][-1] == "scheduler"
    for name in ("web", "worker", "scheduler"):
        assert services[name]["depends_on"]["init"] == {"condition": "service_completed_successfully"}
        assert services[name]["environment"]["PROMETHEUS_MULTIPROC_DIR"] == "/run/mailer-metrics"
        # Every process that can erase someone appends to the same register copy, on a volume of its own.
        register = services[name]["environment"]["MAILER_ERASURE_REGISTER_FILE"]
        assert register.startswith("/var/lib/mailer-erasures/")
        assert "erasures:/var/lib/mailer-erasures" in services[name]["volumes"]
    with open(os.path.join(ROOT, "Dockerfile")) as handle:
        assert "/var/lib/mailer-erasures" in handle.read()  # created for the unprivileged user


def test_the_entrypoint_is_executable_shell_that_migrates_first():
    path = os.path.join(ROOT, "deploy", "entrypoint.sh")
    assert os.access(path, os.X_OK)
    assert _run("sh", "-n", path).returncode == 0
    with open(path) as handle:
        script = handle.read()
    assert script.index("db upgrade") < script.index('exec "$@"')


def test_every_runtime_dependency_is_pinned_for_the_image():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as handle:
        dependencies = tomllib.load(handle)["project"]["dependencies"]
    with open(os.path.join(ROOT, "deploy", "constraints.txt")) as handle:
        pinned = {
            re.split(r"==", line)[0].lower().replace("_", "-")
            for line in handle
            if "==" in line and not line.startswith("#")
        }
    names = {re.split(r"[\[<>=~!; ]", dependency)[0].lower().replace("_", "-") for dependency in dependencies}
    assert names <= pinned, names - pinned
