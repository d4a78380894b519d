"""The embed blueprint itself; its view module attaches the routes and mailer.embed lists it."""

from flask import Blueprint

bp = Blueprint("embed", __name__)
