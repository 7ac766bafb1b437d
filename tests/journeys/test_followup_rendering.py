"""Follow-up templates: checked on save against the context contract, rendered over plain values only."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core.errors import ApplicationError
from customers.models import SourceSystem
from journeys.services.rendering import followup_context, render_message, template_check
from tests.factories import ProductFactory
from tests.journeys.helpers import make_client
from touchpoints.services import OrderLineData, order_record

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "source",
    [
        "Dear {{ client.first_name }} {{ client.last_name|upper }}, {{ advisor.name }} of {{ boutique.name }}",
        "{% for product in recommended_products %}{{ product.name }} {{ product.price }}{% empty %}-{% endfor %}",
        "{% if last_order and last_order.total > 1000 %}{{ last_order.placed_at|date:'j F' }}{% endif %}",
        "{% for line in last_order.lines %}{{ line.name }} × {{ line.quantity }}{% endfor %}",
        "{{ preferences.categories|join:', ' }} {{ recommended_products.0.name }} {{ forloop.counter|default:'' }}",
        "{% with first=client.first_name %}{{ first }}{% endwith %}",
        "{% filter upper %}{{ client.name }}{% endfilter %} {% cycle 'a' 'b' as tone %}{{ tone }}",
        "{% for key, values in preferences.items %}{{ key }}: {{ values|join:', ' }}{% endfor %}",
        "{% firstof advisor.name boutique.name 'the house' as signer %}{{ signer }}{% now 'Y' as year %}{{ year }}",
        "{% regroup recommended_products by category as groups %}{% for group in groups %}{{ group.grouper }}"
        "{% endfor %}",
    ],
)
def test_templates_within_the_context_contract_pass_the_check(source):
    template_check(source, channel="email")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("Dear {{ clinet.first_name }}",
         "Unknown variable 'clinet.first_name': a follow-up template may use client, advisor, boutique, last_order, "
         "recommended_products, preferences."),
        ("{{ client.email }}", "'client.email': client has no 'email'; it offers first_name, last_name, name."),
        ("{% if client.orders %}x{% endif %}",
         "'client.orders': client has no 'orders'; it offers first_name, last_name, name."),
        ("{{ client.name|default:advisor.user }}", "'advisor.user': advisor has no 'user'; it offers name."),
        ("{% for p in recommended_products %}{{ p.sku }}{% endfor %}",
         "'p.sku': p has no 'sku'; it offers category, currency, name, price."),
    ],
)
def test_an_unknown_variable_is_a_clear_error(source, message):
    with pytest.raises(ApplicationError) as raised:
        template_check(source, channel="email", field="body")
    assert raised.value.message == message
    assert raised.value.fields == {"body": [message]}


@pytest.mark.parametrize("tag", ["{% debug %}", "{% load static %}", "{% include 'admin/base.html' %}",
                                 "{% url 'admin:index' %}", "{% csrf_token %}"])
def test_tags_that_reach_beyond_the_message_are_refused(tag):
    with pytest.raises(ApplicationError, match=r"^The template does not compile: Invalid block tag on line 1"):
        template_check(f"Hello {tag}", channel="sms")


def test_a_syntax_error_is_a_clear_error():
    with pytest.raises(ApplicationError, match=r"^The template does not compile: Unclosed tag on line 1: 'if'"):
        template_check("{% if client.name %}Hello", channel="email")


def test_email_bodies_escape_the_clients_data_and_sms_keep_it_as_typed():
    context = {"client": {"first_name": "Ana <b>&", "last_name": "", "name": "Ana <b>&"}}

    email = render_message(subject="Pour {{ client.first_name }}\nmerci", body="<p>Dear {{ client.first_name }}</p>",
                           channel="email", context=context)
    sms = render_message(subject="", body="Dear {{ client.first_name }}", channel="sms", context=context)

    assert (email.subject, email.body, email.text) == ("Pour Ana <b>& merci", "<p>Dear Ana &lt;b&gt;&amp;</p>",
                                                       "Dear Ana <b>&")
    assert (sms.body, sms.text) == ("Dear Ana <b>&", "Dear Ana <b>&")


def _plain(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    return value is None or isinstance(value, str | int | Decimal | dt.datetime)


def test_the_context_holds_the_client_advisor_boutique_last_order_and_products_from_their_categories(
    paris_boutique,
):
    client = make_client(paris_boutique, preferences={"categories": ["Handbags"], "sizes": ["38"]})
    ProductFactory(sku="BAG-1", name="Kelly 25", category="Handbags", price="9000.00")
    ProductFactory(sku="BAG-2", name="Birkin 30", category="Handbags", price="12000.00")
    ProductFactory(sku="BAG-3", name="Evelyne", category="Handbags", price="3000.00")
    ProductFactory(sku="BAG-4", name="Picotin", category="Handbags", price="2500.00")
    ProductFactory(sku="BAG-5", name="Old model", category="Handbags", price="20000.00", is_active=False)
    ProductFactory(sku="SHOE-1", name="Oran", category="Shoes", price="800.00")
    order_record(source=SourceSystem.POS, external_id="O-1", customer=client,
                 placed_at=dt.datetime(2026, 5, 4, 10, tzinfo=dt.UTC), currency="EUR", total="12000.00",
                 lines=[OrderLineData(sku="BAG-2", quantity=1, unit_price="12000.00")])

    context = followup_context(client)

    assert context["client"] == {"first_name": "Élise", "last_name": client.last_name,
                                 "name": f"Élise {client.last_name}"}
    assert context["advisor"] == {"name": str(client.advisor)}
    assert context["boutique"] == {"name": "Paris Faubourg"}
    assert context["last_order"] == {
        "total": Decimal("12000.00"), "currency": "EUR", "placed_at": dt.datetime(2026, 5, 4, 10, tzinfo=dt.UTC),
        "lines": [{"name": "Birkin 30", "category": "Handbags", "quantity": 1, "unit_price": Decimal("12000.00")}],
    }
    # Active, in the client's categories, not bought already, the most precious first, three of them.
    assert [product["name"] for product in context["recommended_products"]] == ["Kelly 25", "Evelyne", "Picotin"]
    assert context["preferences"] == {"sizes": ["38"], "categories": ["Handbags"], "styles": []}
    assert _plain(context)  # nothing a template could walk from into the ORM


def test_without_stated_categories_the_products_come_from_what_the_client_bought(paris_boutique):
    client = make_client(paris_boutique)
    ProductFactory(sku="SHOE-1", name="Oran", category="Shoes", price="800.00")
    ProductFactory(sku="SHOE-2", name="Izmir", category="Shoes", price="900.00")
    ProductFactory(sku="BAG-9", name="Lindy", category="Handbags", price="7000.00")
    order_record(source=SourceSystem.POS, external_id="O-2", customer=client,
                 placed_at=dt.datetime(2026, 5, 4, 10, tzinfo=dt.UTC), currency="EUR", total="800.00",
                 lines=[OrderLineData(sku="SHOE-1", quantity=1, unit_price="800.00")])

    assert [product["name"] for product in followup_context(client)["recommended_products"]] == ["Izmir"]


def test_a_client_without_advisor_boutique_or_orders_renders_without_them():
    from customers.services import customer_upsert

    client = customer_upsert(source=SourceSystem.CRM, external_id="X-1", first_name="Jun").customer
    message = render_message(
        subject="", channel="sms", context=followup_context(client),
        body="Hello {{ client.first_name }}{% if advisor %}, {{ advisor.name }}{% endif %}"
             "{% if last_order %}, {{ last_order.total }}{% endif %}.",
    )
    assert message.text == "Hello Jun."


def test_a_task_whose_saved_template_no_longer_compiles_still_reaches_the_list_saying_why(paris_boutique):
    from journeys.models import FollowUp, FollowUpTemplate, FollowUpVariant
    from journeys.services import followup_schedule

    # Saved before templates were checked (or straight into the database): an unclosed tag.
    template = FollowUpTemplate.objects.create(name="Call", channel="advisor_task")
    FollowUpVariant.objects.create(template=template, subject="Call", body="{% if client.name %}Hello")
    client = make_client(paris_boutique)

    task, created = followup_schedule(customer=client, template=template, key="k",
                                      trigger_at=dt.datetime(2026, 5, 4, 8, tzinfo=dt.UTC))

    assert (created, task.status, task.subject, task.body) == (True, "scheduled", "", "")
    assert task.status_reason == ("The follow-up template does not compile: Unclosed tag on line 1: 'if'. Looking "
                                  "for one of: elif, else, endif.")
    with pytest.raises(ApplicationError, match="^The trigger moment needs a time zone.$"):
        followup_schedule(customer=client, template=template, key="naive", trigger_at=dt.datetime(2026, 5, 4, 8))  # noqa: DTZ001
    assert FollowUp.objects.count() == 1
