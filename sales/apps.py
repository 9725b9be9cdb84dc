from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "sales"

    def ready(self):
        # The escalation ladder's last step: the flag drain (leads.sweep.outbox) reassigns
        # a lead whose response_reassigned flag it takes, through sales' own service.
        from leads.models import FlagKind
        from leads.sweep import outbox

        from .services import lead_reassign_overdue

        outbox.ACTIONS[FlagKind.RESPONSE_REASSIGNED] = lead_reassign_overdue
