"""Bring a lead to any stage through the real services (so tests start from states
the product itself produces)."""

from leads import services as marketing
from leads.models import Stage
from sales import services as sales


class LeadMaker:
    def __init__(self, *, marketer, rep, manager, campaign):
        self.marketer = marketer
        self.rep = rep
        self.manager = manager
        self.campaign = campaign
        self.n = 0

    def new(self, **data):
        self.n += 1
        fields = {"first_name": "Ada", "last_name": f"Lovelace{self.n}"}
        fields["email"] = f"ada{self.n}@example.com"
        fields.update(data)
        return marketing.lead_intake(by=self.marketer, data=fields, campaign=self.campaign).lead

    def __call__(self, stage, owner="rep", **data):
        owner = self.rep if owner == "rep" else owner
        m, lead = self.marketer, self.new(**data)
        if stage == Stage.NEW:
            return lead
        if stage == Stage.NURTURE:
            return marketing.lead_nurture(lead=lead, by=m)
        if stage == Stage.DISQUALIFIED:
            return marketing.lead_disqualify(lead=lead, by=m, reason="spam")
        lead = marketing.lead_qualify(lead=lead, by=m)
        if stage == Stage.MQL:
            return lead
        marketing.lead_hand_off(lead=lead, by=m, to_user=owner)
        if stage == Stage.HANDED_OFF:
            return refresh(lead)
        if stage == Stage.REJECTED:
            return sales.lead_reject(lead=lead, by=owner, reason="not_a_fit")
        sales.lead_accept(lead=lead, by=owner)
        if stage == Stage.ACCEPTED:
            return refresh(lead)
        sales.activity_log(lead=lead, by=owner, kind="call", outcome="connected")
        if stage == Stage.CONTACTED:
            return refresh(lead)
        sales.lead_to_opportunity(lead=lead, by=owner, value="5000")
        if stage == Stage.OPPORTUNITY:
            return refresh(lead)
        if stage == Stage.WON:
            return sales.lead_win(lead=lead, by=owner, value="6000")
        if stage == Stage.LOST:
            return sales.lead_lose(lead=lead, by=owner, reason="price")
        raise ValueError(stage)


def refresh(lead):
    lead.refresh_from_db()
    return lead
