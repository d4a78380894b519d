"""The public blueprint itself; view modules attach their routes to it and mailer.public lists them all."""

from flask import Blueprint

bp = Blueprint("public", __name__)
