"""How LeadFlow names a person, everywhere (pages, flash messages, the timeline, e-mails,
notification texts): their full name, or the username when they have none. Where the
account itself is the subject (a person's own profile), ``with_username`` adds the
username: "Sanne Bakker (rep2)"."""


def person(user, *, with_username=False):
    if user is None:
        return ""
    username = user.get_username()
    name = user.get_full_name().strip()
    if not name:
        return username
    return f"{name} ({username})" if with_username else name
