"""Reporting: every dashboard number defined once (definitions.py), the pre-aggregated
statistics every page reads (stats.py), the one period form (forms.py), the raw medians
(medians.py), and the pages that show them: the dashboard and its CSVs (views.py) and the
campaign feedback page (feedback.py)."""
