"""Domain errors: a refusal a user can read, with the HTTP status it answers with. Every
service raises these; views, the API and imports turn them into a message, never a 500."""


class LeadflowError(Exception):
    """A domain error whose message a user can read. ``status`` is the HTTP answer."""

    status = 400

    def __init__(self, message):
        self.message = str(message)
        super().__init__(self.message)


class InvalidInput(LeadflowError):
    """Bad input for an otherwise allowed action (a missing reason, a value <= 0)."""

    status = 400

    def __init__(self, message, field=None):
        self.field = field
        super().__init__(message)


class ActionForbidden(LeadflowError):
    """The actor's role does not allow this action."""

    status = 403


class TransitionNotAllowed(LeadflowError):
    """The lead's current stage does not allow this move, or another user got there first."""

    status = 409
