"""``/api/portfolio/{user_id}/...``: the portfolio, trades, position settings and cash of one investor.

``user_id`` is a user's id or ``me``. Investors reach only their own portfolio: any other id
answers 404 (whether or not it exists). Staff may read other portfolios but not trade in them.
Each view validates input with a serializer, calls one service or selector, and serialises the result.
"""

from __future__ import annotations

import re
from datetime import UTC
from decimal import Decimal
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from accounts.selectors import user_in_scope
from market.symbols import TRADABLE
from portfolios import selectors, services
from portfolios.api.serializers import (
    CashRequestSerializer,
    CashResultSerializer,
    PortfolioSerializer,
    PositionSerializer,
    PositionUpdateSerializer,
    TradeFilterSerializer,
    TradeRequestSerializer,
    TradeResultSerializer,
    TradeSerializer,
)
from portfolios.core.ledger import q2
from portfolios.models import CashAccount, Position, Trade, TradeSide, TradeSource
from portfolios.selectors.trade_checks import close_on, market_facts, trade_date_problem, trade_warnings
from quantai.api_output import represent
from quantai.errors import NotFound, RuleViolation, ValidationFailed
from quantai.parsers import BoundedJSONParser

TAG = "portfolio"

_ERROR = inline_serializer(
    "PortfolioErrorResponse",
    fields={
        "error": inline_serializer(
            "PortfolioErrorBody",
            fields={"code": serializers.CharField(), "message": serializers.CharField(), "fields": serializers.DictField()},
        )
    },
)
READ_ERRORS = {
    401: OpenApiResponse(_ERROR, description="Not signed in."),
    404: OpenApiResponse(_ERROR, description="No such portfolio for you (another investor's id answers 404 too)."),
}
_WRITE_ERRORS = {
    400: OpenApiResponse(_ERROR, description="Malformed input (`validation_error`); per-field messages in error.fields."),
    **READ_ERRORS,
    409: OpenApiResponse(_ERROR, description="The idempotency key was already used for a different request (`conflict`)."),
}
#: What the ledger answers to a well-formed entry it refuses (trades and cash).
_LEDGER_REFUSALS = {
    409: OpenApiResponse(
        _ERROR,
        description="Your account refuses it as it stands, the field to change named in error.fields: "
        "`insufficient_cash` (no margin), `insufficient_shares`, `opposite_position` (long and short at once), "
        "`too_large` (a position or balance past its limit), `ledger_order` (before your last entry); or "
        "`conflict`: the idempotency key was already used for a different request.",
    ),
    422: OpenApiResponse(
        _ERROR,
        description="A rule refuses it: `short_not_allowed` (Aggressive profile and the feature only), `fees_too_high`, "
        "`future_date`, `no_price` (no close known for the symbol: give `price`).",
    ),
}
USER_ID = OpenApiParameter("user_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="A user id, or `me`.")
POSITION_ID = OpenApiParameter("position_id", OpenApiTypes.INT, OpenApiParameter.PATH)
#: Visible ASCII, spaces inside only: what survives every HTTP stack unchanged (a UUID is a good key).
IDEMPOTENCY_KEY_PATTERN = r"^[!-~](?:[ -~]{0,98}[!-~])?$"
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN, "maxLength": 100},
    OpenApiParameter.HEADER,
    required=True,
    description="Makes the request safe to retry: the same key returns the first result and applies nothing again "
    "(the same key with a different request answers 409 `conflict`). 1-100 visible ASCII characters.",
)


def portfolio_owner(request: Request, user_id: str, *, write: bool = False) -> User:
    """Whose portfolio ``user_id`` names, if the caller may see it (writes: only their own)."""
    owner = user_in_scope(caller=request.user, user_id=user_id, write=write)  # type: ignore[arg-type]
    if owner is None:
        raise NotFound("No such portfolio.")
    return owner


def _idempotency_key(request: Request) -> str:
    key = request.headers.get("Idempotency-Key")
    if not key:
        message = "An idempotency key is required: send the Idempotency-Key header."
        raise ValidationFailed(message, fields={"idempotency_key": [message]})
    if re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key) is None:
        message = "The Idempotency-Key header must be 1-100 visible ASCII characters (spaces only inside)."
        raise ValidationFailed(message, fields={"idempotency_key": [message]})
    return key


def _cash_balance(user: User) -> Decimal:
    return CashAccount.objects.filter(user=user).values_list("balance", flat=True).first() or Decimal("0.00")


class PortfolioView(APIView):
    @extend_schema(
        tags=[TAG],
        parameters=[USER_ID],
        responses={200: PortfolioSerializer, **READ_ERRORS},
        summary="Positions, cash and totals",
        description="Open positions valued at the latest daily close, closed positions (for their realized P&L), "
        "cash, and totals. Average-cost method.",
    )
    def get(self, request: Request, user_id: str) -> Response:
        owner = portfolio_owner(request, user_id)
        return Response(represent(PortfolioSerializer, selectors.portfolio_summary(user=owner)))


class PositionsView(APIView):
    # JSON only: the schema's typed body (decimals, nulls, booleans) has no form encoding.
    parser_classes = [BoundedJSONParser]

    @extend_schema(
        tags=[TAG],
        parameters=[USER_ID, IDEMPOTENCY_KEY],
        request=TradeRequestSerializer,
        responses={201: TradeResultSerializer, 200: TradeResultSerializer, **_WRITE_ERRORS, **_LEDGER_REFUSALS},
        summary="Record a trade (BUY, SELL, SHORT, COVER)",
        description="Applies the trade to the position and cash in one transaction. No margin: a buy needs the cash. "
        "Shorting needs an Aggressive profile and the short-selling feature. Fees (USD) come out of cash: an opening "
        "trade's join its cost basis, a closing trade's reduce its realized P&L. `trade_date` back-dates it (not "
        "before the symbol's first bar: 422 `before_first_bar`); a price more than 10 % outside that day's low-high "
        "range is recorded with a warning. Answers 201 for a new trade, 200 with `replayed: true` for a repeated "
        "idempotency key.",
    )
    def post(self, request: Request, user_id: str) -> Response:
        owner = portfolio_owner(request, user_id, write=True)
        serializer = TradeRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        key = _idempotency_key(request)
        symbol, trade_date, executed_at = data["symbol"], data.get("trade_date"), data.get("executed_at")
        day = trade_date or (executed_at.astimezone(UTC).date() if executed_at else None)
        facts = market_facts([(symbol, day or timezone.now().astimezone(UTC).date())])
        if day is not None:
            problem = trade_date_problem(facts, symbol=symbol, day=day)
            if problem:
                field = "trade_date" if trade_date else "executed_at"
                raise RuleViolation(problem, fields={field: [problem]}, code="before_first_bar")
        price = data.get("price")
        if price is None and day is not None:
            price = close_on(symbol, day)
            if price is None:
                message = f"No close is stored for {symbol} on {day.isoformat()}; give the price."
                raise RuleViolation(message, fields={"price": [message]}, code="no_price")
        if price is None:
            quote = selectors.latest_closes([symbol]).get(symbol)
            if quote is None:
                message = f"No price is known for {symbol} yet; give one."
                raise RuleViolation(message, fields={"price": [message]}, code="no_price")
            price = q2(quote.close)  # a trade price has cents; the bar has four decimals
        trade = services.trade_execute(
            user=owner,
            symbol=symbol,
            side=data["side"],
            shares=data["shares"],
            price=price,
            fees=data.get("fees", Decimal("0")),
            executed_at=executed_at,
            executed_on=trade_date,
            source=data["source"],
            idempotency_key=key,
        )
        on = day or timezone.now().astimezone(UTC).date()
        body = {
            "trade": TradeSerializer(trade).data,
            "position": PositionSerializer(Position.objects.get(user=owner, symbol=trade.symbol)).data,
            "cash": str(_cash_balance(owner)),
            "replayed": trade.replayed,
            "warnings": trade_warnings(facts, symbol=symbol, day=on, price=trade.price, check_session=day is not None),
        }
        return Response(body, status=status.HTTP_200_OK if trade.replayed else status.HTTP_201_CREATED)


class PositionDetailView(APIView):
    # JSON only: the schema's typed body (decimals, nulls, booleans) has no form encoding.
    parser_classes = [BoundedJSONParser]

    @extend_schema(
        tags=[TAG],
        parameters=[USER_ID, POSITION_ID],
        request=PositionUpdateSerializer,
        responses={
            200: PositionSerializer,
            **_WRITE_ERRORS,
            409: OpenApiResponse(_ERROR, description="The position is closed (`position_closed`): no exit levels."),
            422: OpenApiResponse(
                _ERROR, description="`exit_levels`: a long's stop loss must be below its take profit, a short's above."
            ),
        },
        summary="Set a position's stop loss, take profit, notes or automatic exit",
        description="Fields left out keep their value; null clears a level. Share counts change only through trades.",
    )
    def put(self, request: Request, user_id: str, position_id: str) -> Response:
        owner = portfolio_owner(request, user_id, write=True)
        if not position_id.isdigit():
            raise NotFound("No such position.")
        serializer = PositionUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        position = services.position_update(user=owner, position_id=int(position_id), **serializer.validated_data)
        return Response(PositionSerializer(position).data)


class TradesView(generics.ListAPIView):
    serializer_class = TradeSerializer
    # Paged by the project default (quantai.pagination: 50 a page, at most 500, malformed values refused).

    @extend_schema(
        tags=[TAG],
        parameters=[
            USER_ID,
            OpenApiParameter("symbol", OpenApiTypes.STR, enum=list(TRADABLE)),
            OpenApiParameter("side", OpenApiTypes.STR, enum=TradeSide.values),
            OpenApiParameter("source", OpenApiTypes.STR, enum=TradeSource.values),
            OpenApiParameter("date_from", OpenApiTypes.DATE, description="Executed on or after (UTC date)"),
            OpenApiParameter("date_to", OpenApiTypes.DATE, description="Executed on or before (UTC date)"),
        ],
        responses={
            200: TradeSerializer(many=True),
            400: _WRITE_ERRORS[400],
            422: OpenApiResponse(_ERROR, description="`rule_violation`: date_to is before date_from."),
            **READ_ERRORS,
        },
        summary="Trade and cash history (the ledger), newest first",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        owner = portfolio_owner(self.request, self.kwargs["user_id"])
        filters = TradeFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = {k: v for k, v in filters.validated_data.items() if k not in ("limit", "offset")}
        return selectors.trades_for_user(user=owner, **wanted)


class CashView(APIView):
    # JSON only: the schema's typed body (decimals, nulls, booleans) has no form encoding.
    parser_classes = [BoundedJSONParser]

    @extend_schema(
        tags=[TAG],
        parameters=[USER_ID, IDEMPOTENCY_KEY],
        request=CashRequestSerializer,
        responses={201: CashResultSerializer, 200: CashResultSerializer, **_WRITE_ERRORS, 409: _LEDGER_REFUSALS[409]},
        summary="Deposit or withdraw cash",
        description="A ledger entry like a trade. A withdrawal cannot exceed the cash balance.",
    )
    def post(self, request: Request, user_id: str) -> Response:
        owner = portfolio_owner(request, user_id, write=True)
        serializer = CashRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        key = _idempotency_key(request)
        write = services.cash_deposit if data["action"] == "deposit" else services.cash_withdraw
        entry: Trade = write(user=owner, amount=data["amount"], idempotency_key=key)
        body = {"entry": TradeSerializer(entry).data, "cash": str(_cash_balance(owner)), "replayed": entry.replayed}
        return Response(body, status=status.HTTP_200_OK if entry.replayed else status.HTTP_201_CREATED)
