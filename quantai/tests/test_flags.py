import pytest
from waffle.models import Switch

from quantai.flags import Flag, all_flags, flag_enabled


@pytest.mark.django_db
def test_a_flag_follows_the_settings_default_until_an_operator_switches_it(settings, django_capture_on_commit_callbacks):
    settings.FEATURE_FLAGS = {**settings.FEATURE_FLAGS, "short_selling": False}
    assert flag_enabled(Flag.SHORT_SELLING) is False  # also caches "no switch"

    # waffle flushes its cache when the operator's change commits.
    with django_capture_on_commit_callbacks(execute=True):
        Switch.objects.create(name="short_selling", active=True)
    assert flag_enabled("short_selling") is True

    switch = Switch.objects.get(name="short_selling")
    switch.active = False
    with django_capture_on_commit_callbacks(execute=True):
        switch.save()
    assert flag_enabled(Flag.SHORT_SELLING) is False


@pytest.mark.django_db
def test_an_operator_can_turn_a_default_on_flag_off(settings):
    settings.FEATURE_FLAGS = {**settings.FEATURE_FLAGS, "risk_alerts": True}
    Switch.objects.create(name="risk_alerts", active=False)
    assert flag_enabled(Flag.RISK_ALERTS) is False


@pytest.mark.django_db
def test_every_flag_of_the_original_design_has_a_default():
    flags = all_flags()
    assert set(flags) == {f.value for f in Flag}
    for name in (
        "personalised_recommendations",
        "reinforcement_learning",
        "risk_alerts",
        "portfolio_rebalancing",
        "advanced_analytics",
        "user_feedback",
        "learning_insights",
    ):
        assert name in flags


def test_an_unknown_flag_name_is_an_error():
    with pytest.raises(ValueError):
        flag_enabled("no_such_flag")


@pytest.mark.django_db
def test_templates_can_read_flags(settings):
    from django.template import Context, RequestContext, Template
    from django.test import RequestFactory

    settings.FEATURE_FLAGS = {**settings.FEATURE_FLAGS, "learning_insights": True}
    Switch.objects.create(name="learning_insights", active=False)
    template = Template("{% if flags.learning_insights %}on{% else %}off{% endif %}")

    assert template.render(RequestContext(RequestFactory().get("/"))) == "off"
    assert template.render(Context({})) == "off"  # no context processor: the flag reads as off


@pytest.mark.django_db
def test_all_flags_agree_with_each_flag_and_follow_a_switch_with_one_cached_read(
    settings, django_capture_on_commit_callbacks, django_assert_num_queries
):
    settings.FEATURE_FLAGS = {**settings.FEATURE_FLAGS, "short_selling": False, "risk_alerts": True}
    with django_capture_on_commit_callbacks(execute=True):
        Switch.objects.create(name="risk_alerts", active=False)
    flags = all_flags()
    assert flags == {flag.value: flag_enabled(flag) for flag in Flag}
    assert flags["risk_alerts"] is False and flags["short_selling"] is False

    with django_capture_on_commit_callbacks(execute=True):
        Switch.objects.create(name="short_selling", active=True)
    assert all_flags()["short_selling"] is True  # the switch's save cleared the cached list
    with django_assert_num_queries(0):
        all_flags()  # every switch from the cache: no query per flag, none at all
