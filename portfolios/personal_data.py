"""The portfolios app's part of a user's data export and of account deletion (see :mod:`quantai.personal_data`).

Export: the whole trade and cash ledger, positions (with notes), the cash balance and risk alerts.

Erase: all of it is deleted. The ledger is append-only for every other purpose; erasing a person is
the one sanctioned exception, done through the base manager (the default manager refuses deletes).
Positions and cash go with their ledger, so ``verify_ledger`` still finds every remaining ledger equal
to its caches. Recommendations that point at a deleted trade keep their own copy of what was traded
(``actual_shares_traded``, ``actual_price``) and lose only the link.
"""

from __future__ import annotations

from accounts.models import User
from portfolios.models import CashAccount, Position, RiskAlert, Trade
from quantai.personal_data import Table, register, table_from


def export(user: User) -> dict[str, Table]:
    return {
        "trades": table_from(Trade.objects.filter(user=user)),
        "positions": table_from(Position.objects.filter(user=user)),
        "cash": table_from(CashAccount.objects.filter(user=user)),
        "risk_alerts": table_from(RiskAlert.objects.filter(user=user)),
    }


def erase(*, user: User, placeholder: User) -> dict[str, int]:
    # Alerts first (they point at positions and trades), then the caches, then the ledger itself.
    alerts = RiskAlert.objects.filter(user=user).delete()[0]
    positions = Position.objects.filter(user=user).delete()[0]
    cash = CashAccount.objects.filter(user=user).delete()[0]
    trades = Trade._base_manager.filter(user=user).delete()[0]
    return {
        "risk_alerts_deleted": alerts,
        "positions_deleted": positions,
        "cash_accounts_deleted": cash,
        "ledger_entries_deleted": trades,
    }


register("portfolios", export=export, erase=erase)
