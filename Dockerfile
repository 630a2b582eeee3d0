# Rewards ledger: one process, one data/ volume. Build: docker build -t rewards-ledger .
# Debian 12 (bookworm), as CI and the development machines; Python 3.11, as requirements.txt's lock.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# The service runs as this unprivileged user (fixed ids, so a host folder can be chowned to it).
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

WORKDIR /app
# Every package pinned, transitive ones included (`make lock`).
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
# Code stays root-owned: the service user can read it, not change it.
COPY app ./app
COPY migrations ./migrations
COPY templates ./templates
RUN python -m compileall -q app

# data/ holds the database, its WAL, backups and the generated admin key: owned by the service
# user and private to it. Created before VOLUME, so a new named volume starts with this owner.
RUN mkdir -p /app/data && chown app:app /app/data && chmod 0700 /app/data
VOLUME ["/app/data"]

ENV HOST=0.0.0.0 PORT=8080 DATABASE_PATH=/app/data/app.db
# Numeric, so a runtime can check it is not root (e.g. Kubernetes runAsNonRoot).
USER 10001:10001
EXPOSE 8080

# Liveness: /livez answers without touching the database (slim images have no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/livez' % os.environ.get('PORT', '8080'), timeout=4)"]

# exec: the service is PID 1 and gets docker stop's SIGTERM (it shuts down cleanly on it).
CMD ["sh", "-c", "python -m app migrate && exec python -m app serve"]
