# One image, both roles: `python -m bot` (scheduler + delivery, the default) and
# `castfive worker --queues ...` (transcription, extraction). Tokens and the database and broker
# URLs come from the environment at run time, never from the image.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core ./core
COPY bot ./bot
COPY examples ./examples
COPY config.example.toml ./
RUN pip install --no-cache-dir . && useradd --create-home castfive && mkdir -p /app/data && chown castfive /app/data
USER castfive
ENV CASTFIVE_CONFIG=/app/config.example.toml
CMD ["python", "-m", "bot"]
