# flowrt: the runtime and its editor on port 1880, state in the /data volume.
#   docker build -t flowrt .
#   docker run -p 1880:1880 -v flowrt-data:/data flowrt [FLOWFILE]
# Settings come from /data/settings.toml or FLOWRT_* environment variables.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY flowrt ./flowrt
COPY nodes ./nodes
COPY web ./web
COPY flows ./flows
RUN pip install . \
    && rm -rf /src \
    && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home flowrt \
    && mkdir /data \
    && chown flowrt:flowrt /data

USER flowrt
WORKDIR /data
VOLUME ["/data"]
EXPOSE 1880

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('FLOWRT_PORT', '1880'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["flowrt", "run", "--host", "0.0.0.0", "--data-dir", "/data"]
