"""The insights app's part of a user's data export and of account deletion (see :mod:`quantai.personal_data`).

Export: the record of daily digests mailed to the user (day, counts, when). Erase: deleted; nothing aggregates it.
The opt-in itself lives in the user's preferences, which the accounts app exports and erases.
"""

from __future__ import annotations

from accounts.models import User
from insights.models import DigestDelivery
from quantai.personal_data import Table, register, table_from


def export(user: User) -> dict[str, Table]:
    return {"digest_deliveries": table_from(DigestDelivery.objects.filter(user=user))}


def erase(*, user: User, placeholder: User) -> dict[str, int]:
    return {"digest_deliveries_deleted": DigestDelivery.objects.filter(user=user).delete()[0]}


register("insights", export=export, erase=erase)
