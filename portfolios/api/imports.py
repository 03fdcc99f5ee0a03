"""``POST /api/portfolio/{user_id}/import``: import transactions from a CSV file (QuantAI or Interactive Brokers Flex).

Same service as the page (:mod:`portfolios.services.imports`): ``dry_run`` previews, otherwise every new
row is written in one transaction or none. Only the caller's own portfolio.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portfolios.api.views import _ERROR, READ_ERRORS, TAG, USER_ID, portfolio_owner
from portfolios.core.importing import MAX_BYTES, MAX_ROWS, ImportFormat
from portfolios.services.imports import ImportPreview, transactions_import, transactions_import_preview
from quantai.api_fields import StrictSerializer
from quantai.errors import RuleViolation

FORMAT_CHOICES = ["auto", *(f.value for f in ImportFormat)]


class ImportRequestSerializer(StrictSerializer):
    file = serializers.FileField(required=False, help_text="The CSV file (multipart/form-data).")
    content = serializers.CharField(
        required=False, trim_whitespace=False, help_text="Or the CSV text itself (JSON); give one of file and content."
    )
    format = serializers.ChoiceField(choices=FORMAT_CHOICES, required=False, default="auto")
    dry_run = serializers.BooleanField(
        required=False, default=False, help_text="true: preview only, nothing is written (the page's first step)."
    )
    sha256 = serializers.RegexField(
        r"^[0-9a-f]{64}$", required=False, help_text="The previewed file's sha256: refused if the file differs."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("file" in attrs) == ("content" in attrs):
            raise serializers.ValidationError({"file": ["Send the CSV as file (multipart) or as content (text), one of them."]})
        return attrs


class _ImportOptions(StrictSerializer):
    format = serializers.ChoiceField(choices=FORMAT_CHOICES, required=False, default="auto")
    dry_run = serializers.BooleanField(required=False, default=False)
    sha256 = serializers.RegexField(r"^[0-9a-f]{64}$", required=False)


class ImportFileSchema(_ImportOptions):
    """What the schema documents for multipart/form-data: the file (the view validates with ImportRequestSerializer)."""

    file = serializers.FileField(help_text="The CSV file.")


class ImportContentSchema(_ImportOptions):
    """What the schema documents for application/json: the CSV text (the view validates with ImportRequestSerializer)."""

    content = serializers.CharField(trim_whitespace=False, help_text="The CSV text itself.")


class RowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="Line of the file (the header is line 1)")
    column = serializers.CharField(help_text="The column as the file names it")
    message = serializers.CharField()


class ImportRowSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["new", "already_imported", "error"])
    key = serializers.CharField(help_text="The row's stable key (stored as the entry's idempotency key)")
    trade_date = serializers.DateField(allow_null=True)
    executed_at = serializers.DateTimeField(allow_null=True, help_text="When it is recorded (new rows without errors)")
    side = serializers.CharField()
    symbol = serializers.CharField()
    shares = serializers.DecimalField(max_digits=10, decimal_places=4, allow_null=True)
    price = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    fees = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    amount = serializers.DecimalField(max_digits=15, decimal_places=2, allow_null=True)
    note = serializers.CharField()
    cash_after = serializers.DecimalField(max_digits=15, decimal_places=2, allow_null=True)
    errors = RowErrorSerializer(many=True)  # type: ignore[assignment]  # a declared field, not Serializer.errors
    warnings = serializers.ListField(child=serializers.CharField())


class ImportPreviewSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=[f.value for f in ImportFormat])
    sha256 = serializers.CharField()
    total_rows = serializers.IntegerField()
    new = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="Rows already in the ledger (skipped)")
    can_import = serializers.BooleanField()
    cash_before = serializers.DecimalField(max_digits=15, decimal_places=2)
    cash_after = serializers.DecimalField(max_digits=15, decimal_places=2)
    ignored_columns = serializers.ListField(child=serializers.CharField())
    skipped = serializers.SerializerMethodField()
    errors = RowErrorSerializer(many=True)  # type: ignore[assignment]  # a declared field, not Serializer.errors
    rows = ImportRowSerializer(many=True)

    def get_skipped(self, obj: ImportPreview) -> list[dict[str, Any]]:
        return [{"row": line, "reason": why} for line, why in obj.skipped]


class ImportResultSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    created = serializers.IntegerField(help_text="Ledger entries written (0 for a dry run or a file already imported)")
    replayed = serializers.BooleanField(help_text="True when every row had been imported before: nothing was written")
    preview = ImportPreviewSerializer()


class ImportView(APIView):
    @extend_schema(
        tags=[TAG],
        parameters=[USER_ID],
        request={"multipart/form-data": ImportFileSchema, "application/json": ImportContentSchema},
        responses={
            200: ImportResultSerializer,
            201: ImportResultSerializer,
            400: OpenApiResponse(_ERROR, description="Malformed request (`validation_error`): no file, both file and content."),
            422: OpenApiResponse(
                _ERROR,
                description="The file cannot be read (`import_file_invalid`, fields.file), or rows have errors "
                "(`import_invalid`, fields `rows.<line>.<column>`) and nothing was written.",
            ),
            **READ_ERRORS,
        },
        summary="Import transactions from a CSV file (preview with dry_run)",
        description=f"QuantAI CSV (date, side, symbol, shares, price, fees, amount, currency, note) or an Interactive "
        f"Brokers Flex Query Trades CSV; at most {MAX_BYTES // 1024} KiB and {MAX_ROWS} rows. Rows are checked in date "
        "order as trades (oversells and cash shortfalls are row errors). All new rows are written in one transaction "
        "or none; rows already imported (same stable key) are skipped, so a repeated import answers 200 with "
        "replayed true and writes nothing. 201 when entries were written; 200 for a dry run.",
    )
    def post(self, request: Request, user_id: str) -> Response:
        owner = portfolio_owner(request, user_id, write=True)
        serializer = ImportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        content = _content(data)
        fmt = None if data["format"] == "auto" else data["format"]
        if data["dry_run"]:
            preview = transactions_import_preview(user=owner, content=content, fmt=fmt)
            body = {"dry_run": True, "created": 0, "replayed": False, "preview": ImportPreviewSerializer(preview).data}
            return Response(body, status=status.HTTP_200_OK)
        result = transactions_import(user=owner, content=content, fmt=fmt, expected_sha256=data.get("sha256"))
        body = {
            "dry_run": False,
            "created": len(result.created),
            "replayed": result.replayed,
            "preview": ImportPreviewSerializer(result.preview).data,
        }
        return Response(body, status=status.HTTP_200_OK if result.replayed else status.HTTP_201_CREATED)


def _content(data: dict[str, Any]) -> bytes:
    if "content" in data:
        return str(data["content"]).encode("utf-8")
    upload = data["file"]
    if upload.size > MAX_BYTES:
        message = f"The file is {upload.size:,} bytes; the limit is {MAX_BYTES:,} bytes."
        raise RuleViolation(message, fields={"file": [message]}, code="import_file_invalid")
    return bytes(upload.read())
