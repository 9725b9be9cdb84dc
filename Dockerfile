FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN useradd --create-home leadflow
COPY pyproject.toml README.md requirements.txt ./
COPY leadflow ./leadflow
COPY campaigns ./campaigns
COPY leads ./leads
COPY sales ./sales
RUN pip install --require-hashes --no-deps -r requirements.txt \
    && pip install --no-deps --no-build-isolation .
COPY . .
RUN DEBUG=0 SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
    && DEBUG=0 SECRET_KEY=build-only python manage.py compile_translations --force \
    && mkdir -p /app/var && chown -R leadflow /app/var
USER leadflow
EXPOSE 8000
# gunicorn.conf.py: gthread workers on 0.0.0.0:$PORT (8000), WEB_CONCURRENCY workers (2).
CMD ["gunicorn", "-c", "gunicorn.conf.py"]
