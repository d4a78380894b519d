"""The README's nginx snippet lets the largest CSV import through: a body cap under IMPORT_MAX_MB would answer
nginx's own 413 to a file the app takes (a million rows must go in one upload)."""

import re

from config import Config
from tests.support.tls_proxy import ReadmeDeployment


def test_the_nginx_body_cap_is_above_the_import_limit():
    snippet = ReadmeDeployment.read().nginx
    [cap] = re.findall(r"client_max_body_size\s+(\d+)m;", snippet)
    assert int(cap) > Config.IMPORT_MAX_MB
