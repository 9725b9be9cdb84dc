"""Routing by the assignment rules (SPEC §2): teams, rules, and the one decision of which
rep or queue a lead goes to (``engine.route``), with the pages and the API that edit them.

``route`` is what every caller uses: a hand-off in automatic mode, the intake of a
campaign that routes at once, the rules page's preview, and anything else that hands a
lead on "by the rules"."""

from .engine import Decision, Facts, any_active_rule, call_team, describe, route, team_names

__all__ = [
    "Decision",
    "Facts",
    "any_active_rule",
    "call_team",
    "describe",
    "route",
    "team_names",
]
