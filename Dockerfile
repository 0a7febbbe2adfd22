FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY scheduler scheduler
COPY adapters adapters
COPY media media
# the same extras as tests/test_packaging.py installs and runs (INSTALL_EXTRAS): never `test`
RUN pip install --no-cache-dir '.[postgres]' \
 && useradd --create-home crosspost \
 && mkdir /data && chown crosspost /data
USER crosspost
ENV CROSSPOST_DATA_DIR=/data
CMD ["crosspost", "--help"]
