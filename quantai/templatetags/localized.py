"""Django's ``floatformat`` in the reader's number format (a template builtin: see ``TEMPLATES`` in settings).

The pages' text is English, so no translation is active and Django's own ``floatformat`` would always write
``1,234.50``. This one formats with the separators of the request's number language
(:func:`quantai.templatetags.numbers.number_language`), activating that language for the one call only, so
``{{ cash|floatformat:"2g" }}`` reads ``1.234,50`` for a German reader like ``{{ cash|money }}`` does.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.template.defaultfilters import floatformat as django_floatformat
from django.utils import translation

from quantai.templatetags.numbers import number_language

register = template.Library()


@register.filter(is_safe=True)
def floatformat(text: Any, arg: Any = -1) -> str:
    language = number_language()
    if language is None:
        return str(django_floatformat(text, arg))
    with translation.override(language):
        return str(django_floatformat(text, arg))
