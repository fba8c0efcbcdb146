# etbot in a container: the bot with Chromium for its charts. Used by docker-compose.yml
# (bot + PostgreSQL); see the README's "Docker Compose" section.
FROM python:3.11-slim-bookworm

# Chromium and fonts render the chart images (kaleido), as scripts/setup-system.sh does.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        chromium fonts-dejavu-core fonts-liberation \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY setup.cfg pyproject.toml README.md ./
COPY src ./src
# The postgres extra brings the PostgreSQL driver (psycopg2).
RUN pip install --no-cache-dir ".[postgres]"

# Never run as root; the bot only reads STATS_DIR and writes to the database.
RUN useradd --create-home --uid 10001 etbot
USER etbot
WORKDIR /home/etbot
ENV PYTHONUNBUFFERED=1

# Applies pending migrations at start, imports what STATS_DIR holds, then watches it.
CMD ["etbot", "run"]
