from django import template

from leadflow.models import Notification

register = template.Library()

# The bell shows "99+" beyond this; counting stops there, so the query stays small.
CAP = 99


@register.simple_tag(takes_context=True)
def unread_notifications(context):
    """The user's unread count for the bell: one small indexed query per request."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    if not hasattr(request, "_unread_notifications"):
        request._unread_notifications = Notification.objects.filter(
            user=user, read_at__isnull=True
        )[: CAP + 1].count()
    return request._unread_notifications


@register.filter
def bell_count(count):
    return f"{CAP}+" if count > CAP else str(count)
