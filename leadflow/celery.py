import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")

app = Celery("leadflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _guard_redis_channels(sender, **kwargs):
    # The worker's crash when Redis goes away during a task (leadflow/broker.py).
    from django.conf import settings

    from . import broker

    if settings.REDIS_CHANNEL_GUARD:
        broker.guard_released_channels()
