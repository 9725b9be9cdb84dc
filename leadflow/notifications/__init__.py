"""Notifications: the in-app bell (notify.py) and the e-mails that go with them
(emails.py); sent by leadflow.tasks.send_notification_email."""
