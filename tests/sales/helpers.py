from html.parser import HTMLParser

from django.contrib.messages import get_messages


def messages_of(response):
    """The texts of the messages a response carries (rendered or still queued)."""
    if response.context is not None and "messages" in response.context:
        return [str(m) for m in response.context["messages"]]
    return [str(m) for m in get_messages(response.wsgi_request)]


def snapshot(lead):
    """Everything an action could change on a lead, to prove a refusal changed nothing."""
    lead.refresh_from_db()
    return (
        lead.stage,
        lead.owner_id,
        lead.deal_value,
        lead.lost_reason,
        lead.rejection_reason,
        lead.next_follow_up_at,
        lead.stage_changes.count(),
        lead.activities.count(),
        lead.handoffs.count(),
    )


class _FieldCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields, self.label_targets, self.ids = [], set(), []
        self._label_depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "label":
            self._label_depth += 1
            if attrs.get("for"):
                self.label_targets.add(attrs["for"])
        elif tag in ("input", "select", "textarea"):
            if attrs.get("type") in ("hidden", "submit", "button"):
                return
            wrapped = self._label_depth > 0
            named = bool(attrs.get("aria-label") or attrs.get("aria-labelledby"))
            self.fields.append((attrs.get("name"), attrs.get("id"), wrapped or named))

    def handle_endtag(self, tag):
        if tag == "label":
            self._label_depth -= 1


def unlabelled_fields(html):
    """Form fields of a page that no label names, and ids used twice (which break labels)."""
    collector = _FieldCollector()
    collector.feed(html)
    missing = [
        (name, field_id)
        for name, field_id, ok in collector.fields
        if not ok and field_id not in collector.label_targets
    ]
    duplicates = {i for i in collector.ids if collector.ids.count(i) > 1}
    return missing, duplicates
