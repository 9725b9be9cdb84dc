"""The columns of LeadFlow's lead export (leads/exports.py), which its CSV import knows
again (leads/imports/reader.py: a re-import keeps the marketing stages and undoes the
export's defused cells)."""

COLUMNS = [
    "id",
    "first_name",
    "last_name",
    "email",
    "company",
    "campaign",
    "channel",
    "inquiry_type",
    "origin",
    "stage",
    "owner",
    "created_at",
    "mql_at",
    "handed_off_at",
    "last_handed_off_at",
    "accepted_at",
    "rejected_at",
    "rejection_reason",
    "first_contact_at",
    "opportunity_at",
    "closed_at",
    "deal_value",
    "lost_reason",
    "open_flags",
    # Appended columns (SPEC §6: new columns are only ever appended).
    "first_connect_at",
    "marketing_court_minutes",
    "sales_court_minutes",
]
