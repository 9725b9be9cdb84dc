"""The JSON API's shared parts: token authentication and role permission
(defaults.py), error answers and schema (base.py), and the URL root (urls.py)."""
