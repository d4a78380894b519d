# mailer: web (gunicorn), worker (dramatiq), scheduler and bounce listener from one image.
# Reproducible: the base image is pinned by version (pin it by digest too where your registry is reachable:
# PYTHON_IMAGE=python:3.11.11-slim-bookworm@sha256:…) and every Python package by deploy/constraints.txt.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
COPY pyproject.toml README.md config.py wsgi.py gunicorn.conf.py ./
COPY deploy/constraints.txt deploy/constraints.txt
COPY mailer mailer
# Editable: templates, static files and migrations are read next to the package (mailer.ROOT is /app).
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-compile -c deploy/constraints.txt -e .

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MAILER_ENV=production \
    FLASK_APP=wsgi \
    PROMETHEUS_MULTIPROC_DIR=/run/mailer-metrics
RUN groupadd --system --gid 10001 mailer \
    && useradd --system --uid 10001 --gid mailer --home-dir /app --shell /usr/sbin/nologin mailer \
    && install -d -o mailer -g mailer /run/mailer-metrics /app/instance /var/lib/mailer-erasures
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --from=build /app /app
COPY migrations migrations
COPY templates templates
COPY static static
COPY deploy/entrypoint.sh /usr/local/bin/mailer-entrypoint
USER 10001:10001
EXPOSE 8000 2526
ENTRYPOINT ["/usr/local/bin/mailer-entrypoint"]
CMD ["gunicorn", "-w", "4", "--threads", "4", "-b", "0.0.0.0:8000", "wsgi:app"]
