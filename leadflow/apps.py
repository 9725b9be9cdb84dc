from django.apps import AppConfig
from django.db.backends.signals import connection_created


class LeadflowConfig(AppConfig):
    name = "leadflow"
    verbose_name = "LeadFlow"

    def ready(self):
        from . import sqlite

        connection_created.connect(sqlite.install, dispatch_uid="leadflow.sqlite.install")
