"""Forms of the portfolio pages. They shape input; the services decide what is allowed."""

from __future__ import annotations

import uuid
from datetime import UTC, date
from typing import Any, cast

from django import forms
from django.utils import timezone

from accounts.services import STARTING_CASH_MAX, STARTING_CASH_MIN
from market.symbols import TRADABLE
from portfolios.models import TradeSide
from quantai.api_fields import StrictDecimalFormField

SYMBOLS = [(s, s) for s in TRADABLE]
BASIC_SIDES = [(TradeSide.BUY.value, "Buy"), (TradeSide.SELL.value, "Sell")]
SHORT_SIDES = [(TradeSide.SHORT.value, "Sell short"), (TradeSide.COVER.value, "Buy to cover")]
IMPORT_FORMATS = [
    ("auto", "Detect from the columns"),
    ("quantai", "QuantAI CSV"),
    ("ibkr_flex", "Interactive Brokers Flex Query (Trades)"),
]


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


def _decimal(label: str, *, places: int, required: bool = True, help_text: str = "", step: str = "any") -> forms.DecimalField:
    # Digits 0-9 only: Decimal() would read "1_000" as 1000 and full-width digits as ASCII ones.
    return StrictDecimalFormField(
        label=label,
        required=required,
        decimal_places=places,
        max_digits=16,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"step": step, "min": "0", "inputmode": "decimal"}),
    )


#: Shown when the hidden key is missing, too long or refused: the page was altered, or is not the one we served.
KEY_ERROR = "This form was changed or is out of date, so nothing was recorded. Check the entries and submit again."


class IdempotentForm(forms.Form):
    """A form whose submissions carry a key made when the form was shown, so a double submit writes once.

    The key is a hidden field, so an error on it is shown with the form's own errors (``_form_errors.html``)
    and the form comes back with a fresh key: submitting again then works.
    """

    idempotency_key = forms.CharField(
        widget=forms.HiddenInput, max_length=100, error_messages={"required": KEY_ERROR, "max_length": KEY_ERROR}
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("idempotency_key", new_idempotency_key())
        super().__init__(*args, **kwargs)

    def add_error(self, field: str | None, error: Any) -> None:
        if field == "idempotency_key" and self.is_bound:
            # Whatever the service said about the key, the person can only fix it by submitting again.
            error = KEY_ERROR
            renewed = cast(Any, self.data).copy()  # a QueryDict or a dict: both copy into something writable
            renewed["idempotency_key"] = new_idempotency_key()
            self.data = renewed
        super().add_error(field, error)


class TradeForm(IdempotentForm):
    symbol = forms.ChoiceField(choices=SYMBOLS)
    side = forms.ChoiceField(choices=BASIC_SIDES, widget=forms.RadioSelect)
    shares = _decimal("Shares", places=4, help_text="Fractional shares are fine (up to 4 decimals).", step="any")
    price = _decimal(
        "Price (USD)",
        places=2,
        required=False,
        help_text="Leave empty to use the latest adjusted close.",
        step="0.01",
    )
    fees = _decimal("Fees (USD)", places=2, required=False, step="0.01", help_text="Commission and charges; empty is 0.")
    trade_date = forms.DateField(
        required=False,
        label="Trade date",
        help_text="Leave empty for now. A past date is recorded at that day's close, never before your last entry.",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
    )
    confirm_price = forms.BooleanField(required=False, label="The date and price are right: record it anyway")

    def __init__(self, *args: Any, allow_short: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if allow_short:
            side = self.fields["side"]
            assert isinstance(side, forms.ChoiceField)
            side.choices = BASIC_SIDES + SHORT_SIDES
        today = timezone.now().astimezone(UTC).date()
        self.fields["trade_date"].widget.attrs["max"] = today.isoformat()

    def clean_trade_date(self) -> date | None:
        day: date | None = self.cleaned_data.get("trade_date")
        if day is not None and day > timezone.now().astimezone(UTC).date():
            raise forms.ValidationError("A trade cannot be dated in the future.")
        return day


class ImportUploadForm(forms.Form):
    """Step 1 of an import: the file (read into the preview; nothing is written)."""

    file = forms.FileField(label="CSV file", help_text="UTF-8 CSV, at most 400 KB and 1,000 rows.")
    format = forms.ChoiceField(choices=IMPORT_FORMATS, initial="auto", label="Format")


class ImportConfirmForm(forms.Form):
    """Step 2: the previewed file's text and hash come back; the service checks every row again."""

    content = forms.CharField(widget=forms.HiddenInput, strip=False)
    sha256 = forms.CharField(widget=forms.HiddenInput, max_length=64)
    format = forms.ChoiceField(choices=IMPORT_FORMATS, widget=forms.HiddenInput)


class CashForm(IdempotentForm):
    action = forms.ChoiceField(choices=[("deposit", "Deposit"), ("withdraw", "Withdraw")], widget=forms.RadioSelect)
    amount = _decimal("Amount (USD)", places=2, step="0.01")


class PositionForm(forms.Form):
    stop_loss = _decimal("Stop loss (USD)", places=2, required=False, step="0.01", help_text="Leave empty for none.")
    take_profit = _decimal("Take profit (USD)", places=2, required=False, step="0.01", help_text="Leave empty for none.")
    notes = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 4}))
    auto_exit = forms.BooleanField(
        required=False,
        label="Exit automatically",
        help_text="Close the position by itself when a level is crossed. Otherwise you get an alert and decide.",
    )


class TradeFilterForm(forms.Form):
    symbol = forms.ChoiceField(choices=[("", "All symbols"), *SYMBOLS], required=False)
    side = forms.ChoiceField(choices=[("", "All sides"), *TradeSide.choices], required=False)
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def filters(self) -> dict[str, Any]:
        """The valid filters, ready for ``trades_for_user`` (an invalid form filters nothing)."""
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}


class SetupCashForm(forms.Form):
    # Named and labelled as the accounts step was, so links, tests and habits keep working.
    starting_cash = StrictDecimalFormField(
        label="Starting cash (USD)",
        required=False,
        max_digits=15,
        decimal_places=2,
        min_value=STARTING_CASH_MIN,
        max_value=STARTING_CASH_MAX,
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0.01", "inputmode": "decimal"}),
    )


class HoldingForm(forms.Form):
    symbol = forms.ChoiceField(choices=[("", "-"), *SYMBOLS], required=False)
    shares = _decimal("Shares", places=4, required=False, step="any")
    avg_price = _decimal("Average price (USD)", places=2, required=False, step="0.01")
    purchase_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        filled = [name for name in ("symbol", "shares", "avg_price", "purchase_date") if data.get(name) not in (None, "")]
        if filled:
            for name in ("symbol", "shares", "avg_price"):
                if data.get(name) in (None, "") and name not in self.errors:
                    self.add_error(name, "Needed for this holding.")
        return data

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():  # the table's column headers are the visible labels
            field.widget.attrs["aria-label"] = field.label or name.replace("_", " ").capitalize()

    @property
    def is_filled(self) -> bool:
        return bool(self.cleaned_data.get("symbol"))


HoldingFormSet = forms.formset_factory(HoldingForm, extra=5, max_num=20, validate_max=True)
