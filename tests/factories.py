"""Factories for reference data. Clients, orders and interactions are made through the real services."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from customers.models import Advisor, Boutique, Persona
from touchpoints.models import Product


class BoutiqueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Boutique
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"B{n:03d}")
    name = factory.Sequence(lambda n: f"Boutique {n}")
    city = "Paris"
    country = "FR"
    timezone = "Europe/Paris"
    currency = "EUR"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"staff{n}")
    first_name = "Camille"
    last_name = factory.Sequence(lambda n: f"Advisor{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@atelier.example")
    is_staff = True


class AdvisorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Advisor

    user = factory.SubFactory(UserFactory)
    boutique = factory.SubFactory(BoutiqueFactory)
    role = Advisor.Role.ADVISOR


class PersonaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Persona
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Persona {n}")
    slug = factory.Sequence(lambda n: f"persona-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("sku",)

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Article {n}")
    category = "Handbags"
    price = "1200.00"


def make_staff(role: str, boutique=None, *, username: str | None = None):
    """A staff login with its Advisor role and the role's group (permissions), as advisor_save leaves it."""
    from customers.services import advisor_save

    user = UserFactory(**({"username": username} if username else {}))
    user.set_password("a-good-staff-password-2026")
    user.save()
    advisor = Advisor(user=user, boutique=boutique if role != Advisor.Role.HEAD_OFFICE else None, role=role)
    advisor_save(advisor=advisor)
    user.refresh_from_db()
    return user
