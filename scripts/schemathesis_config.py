"""Print a schemathesis.toml for scripts/api_contract.sh: dictionaries of ids that exist in
the seeded database, bound to the path id and the body/query fields that name users and
campaigns, so most generated requests reach the services instead of stopping at a 404."""

import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402

from campaigns.models import Campaign  # noqa: E402
from leads.models import Lead  # noqa: E402


def dictionary(name, items):
    print(f"[dictionaries.{name}]")
    print(f"values = [{', '.join(items)}]")


users = [str(pk) for pk in get_user_model().objects.values_list("pk", flat=True)]
# Drawn with the run's seed, so SCHEMATHESIS_SEED repeats the same requests.
lead_ids = list(Lead.objects.order_by("pk").values_list("pk", flat=True))
leads = random.Random(os.environ.get("SCHEMATHESIS_SEED", "1")).sample(
    lead_ids, min(100, len(lead_ids))
)
dictionary("leads", [str(pk) for pk in leads] or ["1"])
dictionary("users", users or ["1"])
dictionary("owners", [f'"{value}"' for value in [*users, "me", "none"]])
dictionary("campaigns", [str(pk) for pk in Campaign.objects.values_list("pk", flat=True)] or ["1"])
print(
    """[parameters]
"path.id" = { dictionary = "leads", probability = 0.85 }
"body.to_user" = { dictionary = "users", probability = 0.8 }
"body.owner" = { dictionary = "users", probability = 0.8 }
"body.campaign" = { dictionary = "campaigns", probability = 0.8 }
"query.campaign" = { dictionary = "campaigns", probability = 0.5 }
"query.owner" = { dictionary = "owners", probability = 0.5 }"""
)
