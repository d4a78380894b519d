"""The permission map is complete and default deny: every admin route has an entry with exactly its methods,
every entry names a real route, and a route nobody declared answers 403 to everyone (logged by name)."""

import logging

from mailer.admin import permissions
from mailer.core.extensions import db
from mailer.staff.accounts import create_staff
from mailer.staff.models.accounts import ROLES
from tests.support.http import login

PASSWORD = "correct horse battery"
IMPLICIT = {"HEAD", "OPTIONS"}  # answered by Flask for every GET route; the map treats them as GET


def _admin_routes(app) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin."):
            routes.setdefault(rule.endpoint, set()).update(rule.methods - IMPLICIT)
    return routes


def test_every_admin_route_is_in_the_map_with_its_methods(app):
    routes = _admin_routes(app)
    undeclared = sorted(set(routes) - set(permissions.RULES))
    assert not undeclared, f"admin endpoints missing from mailer/admin/permissions.py RULES: {undeclared}"
    wrong = {
        endpoint: (sorted(routes[endpoint]), sorted(permissions.RULES[endpoint]))
        for endpoint in routes
        if set(permissions.RULES[endpoint]) != routes[endpoint]
    }
    assert not wrong, f"methods of the route vs. methods in the map: {wrong}"


def test_every_map_entry_names_a_route(app):
    stale = sorted(set(permissions.RULES) - set(_admin_routes(app)))
    assert not stale, f"entries in mailer/admin/permissions.py RULES that match no route: {stale}"


def test_every_entry_names_known_roles_only():
    known = set(ROLES) | {permissions.ANONYMOUS}
    for endpoint, methods in permissions.RULES.items():
        for method, roles in methods.items():
            assert roles and set(roles) <= known, (endpoint, method, roles)
            if permissions.ANONYMOUS in roles:  # open pages are open to staff too
                assert set(ROLES) <= set(roles), endpoint


def test_an_undeclared_admin_route_answers_403_to_every_role_and_is_logged(app, client, caplog):
    app.add_url_rule(
        "/admin/forgotten",
        endpoint="admin.forgotten_page",
        view_func=lambda: "secret page",
        methods=["GET", "POST"],
    )
    assert client.get("/admin/forgotten").status_code == 403  # not even a login redirect
    with app.app_context():
        for role in ROLES:
            create_staff(f"{role}@example.com", PASSWORD, role)
        db.session.commit()
    for role in ROLES:
        client = app.test_client()
        login(client, f"{role}@example.com", PASSWORD)
        with caplog.at_level(logging.WARNING, logger="mailer.admin.permissions"):
            response = client.get("/admin/forgotten")
        assert response.status_code == 403 and "secret page" not in response.text, role
        assert "admin.forgotten_page" in caplog.text
        caplog.clear()
        assert client.get("/admin/").status_code == 200  # declared pages still work for this role
