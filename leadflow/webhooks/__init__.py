"""Outgoing webhooks and chat channels (README "Webhooks").

- :mod:`.events`: what happened, as a signed JSON event per subscribed endpoint, written
  in the transaction of the change (services call :func:`.events.emit`);
- :mod:`.chat`: a notification posted to a person's (or a team's) Slack or Teams channel;
- :mod:`.delivery`: one attempt of one delivery, run by the outbox, with backoff;
- :mod:`.ssrf`: which addresses LeadFlow may send to; :mod:`.signing`: the signature;
- :mod:`.services`, :mod:`.forms`, :mod:`.views`: the managers' endpoints and log.
"""
