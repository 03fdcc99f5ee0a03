"""Feature flags of the original design, defined in one place.

Each flag has a default in ``settings.FEATURE_FLAGS``; an operator overrides it at run time by
creating a django-waffle *switch* of the same name in the admin (on or off). Services call
:func:`flag_enabled`; templates read ``flags.<name>`` (see :func:`quantai.context_processors.site`).
"""

from __future__ import annotations

from enum import StrEnum

from django.conf import settings


class Flag(StrEnum):
    PERSONALISED_RECOMMENDATIONS = "personalised_recommendations"
    REINFORCEMENT_LEARNING = "reinforcement_learning"
    RISK_ALERTS = "risk_alerts"
    PORTFOLIO_REBALANCING = "portfolio_rebalancing"
    ADVANCED_ANALYTICS = "advanced_analytics"
    USER_FEEDBACK = "user_feedback"
    LEARNING_INSIGHTS = "learning_insights"
    SHORT_SELLING = "short_selling"


def flag_default(flag: Flag | str) -> bool:
    flag = Flag(flag)
    return bool(settings.FEATURE_FLAGS.get(flag.value, False))


def flag_enabled(flag: Flag | str) -> bool:
    """The operator's switch if there is one, else the settings default. Unknown names raise ``ValueError``."""
    from waffle import get_waffle_switch_model

    flag = Flag(flag)
    switch = get_waffle_switch_model().get(flag.value)  # cached by waffle, invalidated on save
    if switch.pk is None:
        return flag_default(flag)
    return bool(switch.active)


def all_flags() -> dict[str, bool]:
    """Every flag as :func:`flag_enabled` gives it, from one cached read of all switches (waffle's ``get_all``, whose
    cache entry a switch's save or delete clears) instead of one read per flag: templates ask on every page."""
    from waffle import get_waffle_switch_model

    switches = {switch.name: bool(switch.active) for switch in get_waffle_switch_model().get_all()}
    return {flag.value: switches.get(flag.value, flag_default(flag)) for flag in Flag}
