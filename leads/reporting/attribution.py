"""Multi-touch attribution (SPEC §5): the models' weights and the exact split of a lead.

Each model gives a lead's *counted touches* (in time order) integer weights; the lead's
credit (one lead, in millionths) and its deal value (in cents) are then apportioned over
the touches by those weights with the largest remainder (ties to the earlier touch), so
the parts add up to exactly one lead and exactly the deal value. The statistics
(stats.py, AttributionStats) sum these parts per credited campaign; tests/reference.py
computes the same independently from the raw touches.

Pure functions, no database: one definition of every weight, read by the statistics.
"""

import datetime as dt

from django.utils.translation import gettext_lazy as _

# Credit is kept in millionths of a lead, money in cents: integers, so sums are exact.
CREDIT_SCALE = 1_000_000
HALF_LIFE = dt.timedelta(days=7)
# Time-decay weights are 2^(-Δ/half-life) as integers of this resolution (relative to the
# most recent counted touch, whose weight is exactly this).
DECAY_ONE = 2**52

# model -> (label, the one sentence the dashboard explains it with)
MODELS = {
    "first": (
        _("First touch"),
        _("All of a lead’s credit goes to the campaign of its first touch (sourced revenue)."),
    ),
    "last": (
        _("Last touch"),
        _("All of a lead’s credit goes to the campaign of its last touch before it closed."),
    ),
    "linear": (
        _("Linear"),
        _("A lead’s credit is split evenly over its touches."),
    ),
    "u_shaped": (
        _("U-shaped"),
        _(
            "40 % of a lead’s credit goes to its first touch, 40 % to its last and 20 % is "
            "spread evenly over the touches between."
        ),
    ),
    "w_shaped": (
        _("W-shaped"),
        _(
            "30 % each goes to the touches at creation, at MQL and at handoff, 10 % is spread "
            "over the other touches; a moment that did not happen leaves its share to the "
            "others."
        ),
    ),
    "time_decay": (
        _("Time decay"),
        _(
            "A touch counts half as much for every 7 days between it and the win (or the "
            "lead’s latest touch), and the credit is split by those weights."
        ),
    ),
}
DEFAULT_MODEL = "first"
MODEL_NAMES = tuple(MODELS)


# A lead's touch as the statistics read it: (microseconds on any clock common to the
# lead's touches, campaign id, counted, at or before mql_at, at or before handed_off_at).
AT, CAMPAIGN, COUNTED, BY_MQL, BY_HANDOFF = range(5)


def counted_touches(touches, campaign_id):
    """The touches a lead's credit is split over, from its ``touches`` in time order (then
    id): those counted (a closed lead's up to its close, anyone else's all); a lead with
    none counted credits its first touch, and one without any touch its own first-touch
    ``campaign_id``."""
    counted = [t for t in touches if t[COUNTED]]
    return counted or touches[:1] or [(0, campaign_id, True, False, False)]


def _latest_key(path, flag):
    """Index of the latest touch with ``flag`` (at or before the moment), else the first."""
    found = 0
    for i, touch in enumerate(path):
        if touch[flag]:
            found = i
    return found


def weights(model, path, *, mql=False, handoff=False):
    """Integer weights of the counted touches ``path`` (in time order) under ``model``;
    ``mql``/``handoff``: the lead reached that moment (W-shaped)."""
    n = len(path)
    if n == 1:
        return [1]
    if model == "first":
        return [1] + [0] * (n - 1)
    if model == "last":
        return [0] * (n - 1) + [1]
    if model == "linear":
        return [1] * n
    if model == "u_shaped":
        if n == 2:
            return [1, 1]
        # 40 / 20 / 40: first and last 2(n-2) each, every touch between 1 (of 5(n-2)).
        ends = 2 * (n - 2)
        return [ends] + [1] * (n - 2) + [ends]
    if model == "w_shaped":
        keys = [0]
        if mql:
            keys.append(_latest_key(path, BY_MQL))
        if handoff:
            keys.append(_latest_key(path, BY_HANDOFF))
        others = n - len(set(keys))
        # 30 per key moment against 10 over the others: 3k per moment, 1 per other touch
        # (k others); without others, the moments present share alike.
        per_key = 3 * others if others else 1
        out = [0 if others == 0 else 1] * n
        for i in set(keys):
            out[i] = 0
        for i in keys:
            out[i] += per_key
        return out
    if model == "time_decay":
        # 2^(-(reference - t)/half-life), normalised: the reference moment (the win, or the
        # latest counted touch) is a common factor that cancels, so the weights are taken
        # relative to the latest counted touch, which keeps them far from underflow.
        latest = path[-1][AT]
        half = HALF_LIFE / dt.timedelta(microseconds=1)
        return [round(DECAY_ONE * 2 ** (-(latest - t[AT]) / half)) for t in path]
    raise ValueError(model)


def apportion(total, weights):
    """Split the integer ``total`` by integer ``weights``: each part its floor, the units
    left over to the largest remainders (ties to the earlier part). Sums to ``total``."""
    whole = sum(weights)
    parts = [total * w // whole for w in weights]
    short = total - sum(parts)
    if short:
        remainders = [total * w % whole for w in weights]
        for i in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:short]:
            parts[i] += 1
    return parts


def split(model, path, *, mql=False, handoff=False, cents=0):
    """(credit parts, cents parts or None) of one lead's counted touches under ``model``."""
    w = weights(model, path, mql=mql, handoff=handoff)
    credit = apportion(CREDIT_SCALE, w)
    money = apportion(cents, w) if cents else None
    return credit, money
