# One image for every app process (web, worker, beat, relay, migrate); compose picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=eda_console.settings \
    EDA_VAR_DIR=/app/var

WORKDIR /app

COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .
RUN useradd --create-home --uid 10001 eda \
    && mkdir -p /app/var \
    && chown -R eda:eda /app/var
USER eda

EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "eda_console.asgi:application"]
