"""The admin blueprint itself; view modules attach their routes to it and mailer.admin lists them all."""

from flask import Blueprint

bp = Blueprint("admin", __name__)
