# Image for the CIIE professional-visitor portal: one image for web (gunicorn), the Celery
# worker and beat, and the one-shot migrate job (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# gettext: compilemessages. fonts-noto-cjk, fonts-wqy-microhei: Chinese text in pages and (TrueType, embeddable) in PDF credentials and invoices.
# tesseract-ocr(-chi-sim): OCR of uploaded business licences.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        gettext \
        fonts-noto-cjk \
        fonts-wqy-microhei \
        tesseract-ocr \
        tesseract-ocr-chi-sim \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first, so that code changes do not reinstall them. pyproject.toml declares
# `packages = []`: installing it only pulls in the pinned dependencies. It is built outside
# /app so that no build/ or *.egg-info is left in the code directory.
COPY pyproject.toml /tmp/deps/pyproject.toml
RUN pip install /tmp/deps && rm -rf /tmp/deps

RUN groupadd --system ciie \
    && useradd --system --gid ciie --create-home --home-dir /home/ciie --shell /usr/sbin/nologin ciie

WORKDIR /app
COPY . /app

# compilemessages and collectstatic import the settings, which need no database but generate
# throw-away keys under CIIE_VAR_DIR when none are set: they go to /tmp/build-var, which is
# deleted in the same layer, so no key ends up in the image. DJANGO_DEBUG=false selects the
# manifest storage used at run time. STATIC_ROOT is <CIIE_VAR_DIR>/staticfiles, so the collected
# files are moved to where the run-time CIIE_VAR_DIR (/var/lib/ciie) expects them.
# (locale/ may be absent from a checkout while it holds no catalogue; compilemessages needs it.)
RUN mkdir -p locale /var/lib/ciie/private \
    && CIIE_VAR_DIR=/tmp/build-var DJANGO_DEBUG=false python manage.py compilemessages \
    && CIIE_VAR_DIR=/tmp/build-var DJANGO_DEBUG=false python manage.py collectstatic --noinput \
    && mv /tmp/build-var/staticfiles /var/lib/ciie/staticfiles \
    && rm -rf /tmp/build-var \
    && chown ciie:ciie /var/lib/ciie /var/lib/ciie/private

# Run-time state: private media (a volume in docker-compose.yml), the beat schedule, the
# notice outbox when no real SMS/email backend is configured.
ENV CIIE_VAR_DIR=/var/lib/ciie \
    PRIVATE_MEDIA_ROOT=/var/lib/ciie/private \
    DJANGO_DEBUG=false

USER ciie
EXPOSE 8000

# No gunicorn access log: the portal writes one JSON line per request itself (ciie_portal.request_log).
CMD ["gunicorn", "ciie_portal.wsgi:application", "--bind", "0.0.0.0:8000", "--worker-tmp-dir", "/dev/shm"]
