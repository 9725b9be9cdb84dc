from django.apps import AppConfig
from django.db.backends.signals import connection_created


def sqlite_functions(sender, connection, **kwargs):
    """SQLite runs the lead search's phone digits (PhoneDigits) in Python."""
    if connection.vendor == "sqlite":
        from .models import phone_digits

        connection.connection.create_function("phone_digits", 1, phone_digits, deterministic=True)


class LeadsConfig(AppConfig):
    name = "leads"

    def ready(self):
        connection_created.connect(sqlite_functions, dispatch_uid="leads.sqlite_functions")
