# The hybrid image for docker-compose.yml: the search API (`hybrid serve`) and the Celery
# workers. Model weights come from the installed packages; nothing is downloaded at run time.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 libsndfile1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 hybrid
WORKDIR /app
# torch first, pinned as in the Makefile (PyPI's wheel carries CUDA; it also runs on CPU)
RUN pip install torch==2.13.0
COPY pyproject.toml README.md ./
COPY hybrid hybrid
COPY workers workers
COPY mappings mappings
RUN pip install '.[all]' && mkdir -p /app/var/models && chown -R hybrid /app/var
USER hybrid
EXPOSE 8000
CMD ["hybrid", "serve", "--host", "0.0.0.0", "--port", "8000"]
