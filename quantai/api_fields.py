"""Strict input shared by every API and HTML form: known fields only, money as decimal strings of ASCII digits.

Python is generous with numbers: ``Decimal()`` reads full-width and Arabic-Indic digits (full-width "12"
is 12), ``Decimal("1_000")`` is 1000, and a JSON ``1.5`` arrives as a float whose exact value is not 1.5.
Money and share counts must be what the person typed, so they are taken only as a decimal string of
ASCII digits (``"12"``, ``"0.5"``, ``"-3.25"`` where negatives make sense) or a JSON integer, and
everything else is a field error. :class:`StrictSerializer` refuses
fields it does not know, so a typo (``"qty"``) or a field that may not be set (``"outcome_pnl"``) is an
error instead of a silent default.

The OpenAPI schema says the same (drf-spectacular extensions below): a strict serializer's request body
has ``additionalProperties: false``; a strict decimal is a string with the exact pattern the server
applies, or an integer within the field's bounds.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.http import QueryDict
from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
from rest_framework import serializers

#: What "a decimal string of ASCII digits" means everywhere (no exponent, no separators, no other scripts).
ASCII_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
DECIMAL_MESSAGE = 'Enter a number with the digits 0-9 and an optional decimal point, for example "12" or "12.50".'
FLOAT_MESSAGE = 'Send the number as a decimal string (for example "1.5") or a whole number, never a JSON float.'
UNKNOWN_FIELD_MESSAGE = "Unknown field."
BLANK_MESSAGE = "Give a value or leave the field out."
#: Zero written any way the strict pattern allows ("0", "00.000"): excluded where the minimum is one step.
ZERO_PATTERN = r"^-?0+(?:\.0+)?$"


def decimal_pattern(*, max_digits: int, decimal_places: int, signed: bool = True, maximum: Decimal | None = None) -> str:
    """The regular expression (anchored, ECMA and Python alike) a strict decimal string must match.

    With ``maximum`` (unsigned only) the expression also says the value is at most that: a schema cannot
    put a numeric bound on a string, so a limit below what the digits allow is spelled out digit by digit.
    """
    whole = max(max_digits - decimal_places, 1)
    sign = "-?" if signed else ""
    places = rf"(?:\.[0-9]{{1,{decimal_places}}})?" if decimal_places > 0 else ""
    largest = Decimal(10) ** whole - Decimal(1).scaleb(-decimal_places)
    if maximum is not None and not signed and Decimal(maximum) < largest:
        return f"^(?:{'|'.join(_at_most(Decimal(maximum), whole=whole, places=decimal_places))})$"
    return rf"^{sign}[0-9]{{1,{whole}}}{places}$"


def _below(digit: str) -> str:
    return "0" if digit == "1" else f"[0-{int(digit) - 1}]"


def _at_most(limit: Decimal, *, whole: int, places: int) -> list[str]:
    """Alternatives matching the unsigned decimal strings (``whole`` digits at most before the point, ``places``
    after) whose value is at most ``limit``: shorter whole parts, then smaller digits at each position."""
    digits, _, fraction = f"{limit.quantize(Decimal(1).scaleb(-places)):f}".partition(".")
    digits = digits.lstrip("0") or "0"
    fraction = fraction.ljust(places, "0")[:places]
    pad = f"0{{0,{whole - len(digits)}}}" if whole > len(digits) else ""
    any_places = rf"(?:\.[0-9]{{1,{places}}})?" if places else ""
    found = [rf"{pad}[0-9]{{1,{len(digits) - 1}}}{any_places}"] if len(digits) > 1 else []
    for i, digit in enumerate(digits):
        if digit != "0":
            rest = len(digits) - i - 1
            found.append(f"{pad}{digits[:i]}{_below(digit)}" + (f"[0-9]{{{rest}}}" if rest else "") + any_places)
    # The whole part equals the limit's: the decimals may not exceed its decimals.
    smaller = [
        fraction[:j] + _below(d) + (f"[0-9]{{0,{places - j - 1}}}" if places - j > 1 else "")
        for j, d in enumerate(fraction)
        if d != "0"
    ] + [fraction[:k] for k in range(1, places + 1)]
    tail = rf"(?:\.(?:{'|'.join(smaller)}))?" if places else ""
    found.append(f"{pad}{digits}{tail}")
    return found


def validate_ascii_decimal(value: Any) -> None:
    """Django validator for raw text: ASCII digits, an optional ``-`` and decimal point, nothing else.

    Use it on the *raw* input (``forms.CharField`` or before ``Decimal(...)``): once a value is a
    ``Decimal`` the other scripts' digits and the underscores are already gone.
    """
    if not isinstance(value, str) or ASCII_DECIMAL.fullmatch(value) is None:
        raise DjangoValidationError(DECIMAL_MESSAGE, code="invalid")


class StrictDecimalField(serializers.DecimalField):
    """A DRF decimal that takes a decimal string of ASCII digits or a JSON integer, and nothing else.

    Refused with a field error: JSON floats (``1.5``), booleans, digits of other scripts (full-width, Arabic-Indic),
    underscores (``"1_000"``), exponents (``"1e3"``), surrounding spaces, ``"NaN"``, and more digits
    than the field holds (``"0001"`` counts its zeros). ``null`` only where ``allow_null``; an empty
    string is never null. When ``min_value`` is zero or more, a sign is refused too (``"-0"``).
    """

    default_error_messages = {"invalid": DECIMAL_MESSAGE, "float": FLOAT_MESSAGE}

    def __init__(self, max_digits: int, decimal_places: int, **kwargs: Any) -> None:
        super().__init__(max_digits, decimal_places, **kwargs)
        self.digits, self.places = max_digits, decimal_places  # never None here: the pattern needs both

    @property
    def signed(self) -> bool:
        return self.min_value is None or Decimal(self.min_value) < 0

    @property
    def pattern(self) -> str:
        maximum = None if self.max_value is None else Decimal(self.max_value)
        return decimal_pattern(max_digits=self.digits, decimal_places=self.places, signed=self.signed, maximum=maximum)

    @property
    def excludes_zero(self) -> bool:
        """A minimum of one step (``0.01`` with two places) is "more than zero", which a schema can say."""
        return self.min_value is not None and Decimal(self.min_value) == Decimal(1).scaleb(-self.places)

    def integer_bounds(self) -> tuple[int, int]:
        """The JSON integers this field accepts: within its bounds and its whole digits."""
        largest = 10 ** max(self.digits - self.places, 0) - 1
        low, high = -largest if self.signed else 0, largest
        if self.min_value is not None:
            low = max(low, math.ceil(Decimal(self.min_value)))
        if self.max_value is not None:
            high = min(high, math.floor(Decimal(self.max_value)))
        return low, high

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        # DRF's DecimalField turns "" into null when allow_null; here only null is null.
        return serializers.Field.validate_empty_values(self, data)

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, float):
            self.fail("float")
        if isinstance(data, int):
            data = str(data)
        if not isinstance(data, str):
            self.fail("invalid")
        if re.fullmatch(self.pattern, data) is None:
            if ASCII_DECIMAL.fullmatch(data) is not None:
                super().to_internal_value(data)  # the right kind of text: DRF names the limit it breaks, if it does
            self.fail("invalid")  # leading zeros past the field's digits, or a sign where none is taken
        return super().to_internal_value(data)  # type: ignore[no-any-return]


class StrictDecimalFormField(forms.DecimalField):
    """The HTML forms' counterpart: the typed text must be a decimal of ASCII digits (spaces around are fine)."""

    default_error_messages = {"invalid": DECIMAL_MESSAGE}

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]
        if value in self.empty_values:
            return None
        text = str(value).strip()
        if ASCII_DECIMAL.fullmatch(text) is None:
            raise DjangoValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(text)  # type: ignore[no-any-return]


NOT_TEXT_MESSAGE = "Send text (a JSON string)."


class StrictSerializer(serializers.Serializer):
    """Fields not listed here are refused: 400, each named in `error.fields`."""

    # A typo ("qty") must be an error, not a silent default. Every input serializer of the API derives
    # from this; its request schema has ``additionalProperties: false`` (and ``schema_extra``).

    #: Friendlier messages for fields people try to send and must not.
    forbidden_messages: dict[str, str] = {}
    #: Added to the request body's schema: rules across fields that ``validate()`` applies (``anyOf``...).
    schema_extra: dict[str, Any] = {}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(str(name)[:100] for name in data if name not in self.fields)
            if unknown:
                raise serializers.ValidationError(
                    {name: [self.forbidden_messages.get(name, UNKNOWN_FIELD_MESSAGE)] for name in unknown[:20]}
                )
        if isinstance(data, Mapping) and not isinstance(data, QueryDict):
            # JSON: a text field takes a JSON string only (DRF would turn 0 or true into "0" or "True").
            not_text = sorted(
                name
                for name, field in self.fields.items()
                if isinstance(field, serializers.CharField) and data.get(name) is not None and not isinstance(data[name], str)
            )
            if not_text:
                raise serializers.ValidationError({name: [NOT_TEXT_MESSAGE] for name in not_text})
        if isinstance(data, QueryDict):
            # DRF reads an empty form or query value ("?limit=") of an optional field as "not sent"; it was sent.
            blank = sorted(
                name for name, field in self.fields.items() if data.get(name) == "" and not getattr(field, "allow_blank", False)
            )
            if blank:
                raise serializers.ValidationError({name: [BLANK_MESSAGE] for name in blank})
        return super().to_internal_value(data)


class StrictSerializerSchema(OpenApiSerializerExtension):
    """Request bodies of strict serializers are closed objects (``additionalProperties: false``)."""

    target_class = StrictSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "request" and isinstance(schema, dict) and schema.get("type") == "object":
            schema["additionalProperties"] = False
            schema.update(copy.deepcopy(getattr(self.target, "schema_extra", {})))
        return schema

    def get_name(self, auto_schema: Any, direction: Any) -> str | None:
        return None  # the usual component name


class AccountsStrictSerializerSchema(StrictSerializerSchema):
    """The accounts API's own strict base refuses unknown fields too; its schema says so (no import of accounts)."""

    target_class = "accounts.api.serializers.StrictSerializer"  # type: ignore[assignment]  # loaded lazily
    optional = True


class StrictDecimalFieldSchema(OpenApiSerializerFieldExtension):
    """Requests: the exact string pattern the field applies, or an integer within its bounds."""

    target_class = StrictDecimalField
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        field: StrictDecimalField = self.target
        if direction != "request":
            return auto_schema._map_serializer_field(field, direction, bypass_extensions=True)
        low, high = field.integer_bounds()
        string: dict[str, Any] = {"type": "string", "format": "decimal", "pattern": field.pattern}
        if field.excludes_zero:
            string["not"] = {"pattern": ZERO_PATTERN}
        return {"oneOf": [string, {"type": "integer", "minimum": low, "maximum": high}]}


#: Formats whose values are structured enough that a NUL or blank text cannot match them anyway.
_STRUCTURED_FORMATS = frozenset({"date", "date-time", "time", "uuid", "uri", "email", "ipv4", "ipv6", "binary", "byte"})
#: Any text without NUL (DRF refuses NUL in every CharField) ...
NO_NUL_PATTERN = r"^[^\u0000]*$"
#: ... and, where blanks are refused after trimming, with something besides whitespace.
NOT_BLANK_PATTERN = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"


class CharFieldSchema(OpenApiSerializerFieldExtension):
    """Request text says what every DRF ``CharField`` refuses: NUL characters, and whitespace only where
    blanks are refused (the field trims before it checks). A field with its own pattern keeps it."""

    target_class = serializers.CharField
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        field: serializers.CharField = self.target
        schema = auto_schema._map_serializer_field(field, direction, bypass_extensions=True)
        if direction != "request" or not isinstance(schema, dict) or schema.get("type") != "string":
            return schema
        if "pattern" in schema or "enum" in schema or schema.get("format") in _STRUCTURED_FORMATS:
            return schema
        if any(isinstance(validator, RegexValidator) for validator in field.validators):
            return schema  # drf-spectacular publishes the field's own expression after this
        blank_refused = field.trim_whitespace and not field.allow_blank
        schema["pattern"] = NOT_BLANK_PATTERN if blank_refused else NO_NUL_PATTERN
        return schema


__all__ = [
    "ASCII_DECIMAL",
    "DECIMAL_MESSAGE",
    "StrictDecimalField",
    "StrictDecimalFormField",
    "StrictSerializer",
    "decimal_pattern",
    "validate_ascii_decimal",
]
