"""Record a trade or a cash entry from the terminal, through the same service as the web and the API."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from market.symbols import TRADABLE
from portfolios.core.ledger import q2
from portfolios.models import CashAccount, Position, TradeSource
from portfolios.selectors import latest_closes
from portfolios.services import cash_deposit, cash_withdraw, trade_execute
from quantai.errors import ApplicationError

SIDES = ("buy", "sell", "short", "cover")


class Command(BaseCommand):
    help = "Record a trade: trade --user NAME --buy AAPL 10 [--price 190.50] [--fees 1]; or --deposit/--withdraw AMOUNT."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, metavar="USERNAME")
        action = parser.add_mutually_exclusive_group(required=True)
        for side in SIDES:
            action.add_argument(f"--{side}", nargs=2, metavar=("SYMBOL", "SHARES"), help=f"{side.upper()} SHARES of SYMBOL")
        action.add_argument("--deposit", metavar="AMOUNT")
        action.add_argument("--withdraw", metavar="AMOUNT")
        parser.add_argument("--price", help="Execution price (default: the latest daily close).")
        parser.add_argument("--fees", default="0")
        parser.add_argument("--key", help="Idempotency key (default: a new one, so every run is a new trade).")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No such user: {options['user']}")
        key = options["key"] or f"cli-{uuid.uuid4()}"
        try:
            if options["deposit"] or options["withdraw"]:
                write = cash_deposit if options["deposit"] else cash_withdraw
                entry = write(user=user, amount=options["deposit"] or options["withdraw"], idempotency_key=key)
                self._done(entry, user)
                return
            side = next(s for s in SIDES if options[s])
            symbol, shares = options[side]
            symbol = symbol.upper()
            price = options["price"]
            if price is None:
                if symbol not in TRADABLE:
                    raise CommandError(f"{symbol} is not tradable; choose one of {', '.join(TRADABLE)}.")
                quote = latest_closes([symbol]).get(symbol)
                if quote is None:
                    raise CommandError(f"No price is known for {symbol}; give --price.")
                price = q2(quote.close)  # a trade price has cents; the bar has four decimals
                self.stdout.write(f"Using the latest close of {symbol} ({quote.date}): {price}")
            entry = trade_execute(
                user=user,
                symbol=symbol,
                side=side.upper(),
                shares=shares,
                price=price,
                fees=options["fees"],
                source=TradeSource.MANUAL,
                idempotency_key=key,
            )
        except ApplicationError as exc:
            details = "; ".join(f"{field}: {' '.join(map(str, msgs))}" for field, msgs in exc.fields.items())
            raise CommandError(
                f"{exc.message} {details}".strip() if details and details not in exc.message else exc.message
            ) from None
        self._done(entry, user)

    def _done(self, entry: Any, user: User) -> None:
        verb = "Already recorded" if entry.replayed else "Recorded"
        self.stdout.write(self.style.SUCCESS(f"{verb} #{entry.pk}: {entry} (cash {entry.cash_delta:+})"))
        cash = CashAccount.objects.get(user=user).balance
        line = f"Cash balance: {cash}"
        if entry.symbol:
            position = Position.objects.get(user=user, symbol=entry.symbol)
            line += f"; {entry.symbol}: {position.position_type} {position.shares} at average {position.avg_purchase_price:.2f}"
        self.stdout.write(line)
