# The Milepost image for docker-compose.yml (not built on the machine it was written on).
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir . && DEBUG=true python manage.py compilemessages --ignore=.venv -v 0
RUN useradd --system --home /var/lib/milepost milepost && mkdir -p /var/lib/milepost /run/milepost-metrics \
    && chown milepost /var/lib/milepost /run/milepost-metrics
USER milepost
