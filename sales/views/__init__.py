"""The sales pages, a module per page area: actions on one lead, the inbox, the managers'
pages; shared pieces in helpers.py."""
