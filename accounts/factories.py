"""factory_boy factories for the accounts app (tests and demo data)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth.models import Group

from accounts.models import OnboardingStage, User
from accounts.roles import Role

DEFAULT_PASSWORD = "correct horse battery staple 42"  # noqa: S105 - test fixtures only


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"investor{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")

    @factory.post_generation
    def password(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:
        obj.set_password(extracted or DEFAULT_PASSWORD)
        if create:
            obj.save(update_fields=["password"])

    @factory.post_generation
    def investor_group(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            obj.groups.add(Group.objects.get_or_create(name=Role.INVESTOR.value)[0])


class ActiveUserFactory(UserFactory):
    """A user who finished onboarding (Moderate, 10,000 USD)."""

    onboarding_stage = OnboardingStage.ACTIVE
    starting_cash = Decimal("10000.00")
    portfolio_value = Decimal("10000.00")
