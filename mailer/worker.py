"""Worker entry point: `dramatiq mailer.worker` (the app, and so the broker, exist before any actor)."""

from mailer import create_app

app = create_app({"WORKER_EMBEDDED": False, "SCHEDULER_EMBEDDED": False, "AUTO_MIGRATE": False})
broker = app.extensions["mailer.workers"].broker
