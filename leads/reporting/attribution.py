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


def counted_touches(touches, *, closed_at, created_at, campaign_id):
    """The touches a lead's credit is split over: ``touches`` are (occurred_at,
    campaign_id) in time order (then id). A closed lead (``closed_at`` given for won and
    lost leads) counts only those up to its close; one with none counted credits its first
    touch, and a lead without any touch its own first-touch campaign at its creation."""
    if closed_at is not None:
        counted = [t for t in touches if t[0] <= closed_at]
        if counted:
            return counted
    if touches:
        return touches[:1] if closed_at is not None else touches
    return [(created_at, campaign_id)]


def _latest_at_or_before(times, moment):
    """Index of the latest time <= ``moment`` (the first touch when none is that early)."""
    found = 0
    for i, at in enumerate(times):
        if at <= moment:
            found = i
        else:
            break
    return found


def weights(model, times, *, mql_at=None, handed_off_at=None):
    """Integer weights of the counted touches at ``times`` (in order) under ``model``."""
    n = len(times)
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
        if mql_at is not None:
            keys.append(_latest_at_or_before(times, mql_at))
        if handed_off_at is not None:
            keys.append(_latest_at_or_before(times, handed_off_at))
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
        latest = times[-1]
        half = HALF_LIFE.total_seconds()
        return [round(DECAY_ONE * 2 ** (-(latest - at).total_seconds() / half)) for at in times]
    raise ValueError(model)


def apportion(total, weights):
    """Split the integer ``total`` by integer ``weights``: each part its floor, the units
    left over to the largest remainders (ties to the earlier part). Sums to ``total``."""
    whole = sum(weights)
    parts, remainders = [], []
    for w in weights:
        q, r = divmod(total * w, whole)
        parts.append(q)
        remainders.append(r)
    short = total - sum(parts)
    if short:
        for i in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:short]:
            parts[i] += 1
    return parts


def split(model, times, *, mql_at, handed_off_at, cents):
    """(credit parts, cents parts) of one lead's counted touches under ``model``."""
    w = weights(model, times, mql_at=mql_at, handed_off_at=handed_off_at)
    credit = apportion(CREDIT_SCALE, w)
    money = apportion(cents, w) if cents else None
    return credit, money
