from . import roles as r


def roles(request):
    user = request.user
    return {
        "is_manager": r.is_manager(user),
        "is_marketer": r.is_marketer(user),
        "is_rep": r.is_rep(user),
        "can_market": r.can_market(user),
    }
