from django.contrib import admin

from market.models import PriceBar


@admin.register(PriceBar)
class PriceBarAdmin(admin.ModelAdmin):
    list_display = ("symbol", "date", "open", "high", "low", "close", "volume", "source", "updated_at")
    list_filter = ("symbol", "source")
    date_hierarchy = "date"
    search_fields = ("symbol",)
    ordering = ("-date", "symbol")
    list_per_page = 100
    # Bars are written by the loaders; where one came from is a fact, not something to edit.
    readonly_fields = ("source", "updated_at")
