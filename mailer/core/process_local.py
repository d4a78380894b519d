"""One object per app and per process: buffers and writers that must not cross a fork (gunicorn workers)."""

import os
import threading

_create_lock = threading.Lock()


def process_local(app, key: str, factory):
    """app.extensions[key], made by factory(app) on first use in this process (a forked worker makes its own).

    The object must carry the pid of the process that made it (`pid`)."""
    app = getattr(app, "_get_current_object", lambda: app)()  # keep the app itself, never the context proxy
    item = app.extensions.get(key)
    if item is None or item.pid != os.getpid():
        with _create_lock:
            item = app.extensions.get(key)
            if item is None or item.pid != os.getpid():
                item = app.extensions[key] = factory(app)
    return item
