from celery import shared_task

from . import services


@shared_task(acks_late=True)
def validate_import(job_id):
    """Check every row of an uploaded CSV (progress saved on the job)."""
    services.import_validate(job_id)


@shared_task(acks_late=True)
def run_import(job_id):
    """Import the confirmed rows batch by batch; a redelivered task resumes where it stopped."""
    services.import_run(job_id)
