"""The default rule set of the "Client lifecycle" journey, with the follow-up templates it uses.

Rules run by priority (lower first); those marked stop end the evaluation for that interaction once they fire.
Template bodies are Django templates over the follow-up context: client (first_name, last_name, name), advisor
(name), boutique (name), last_order (total, currency, placed_at, lines), recommended_products (each .name),
preferences.
"""

from django.db import migrations

from core.group_permissions import group_permissions_operation

# Advisors put their clients on hands-off and lift it; managers and head office too.
HANDS_OFF_PERMISSIONS = ["view_handsoff", "add_handsoff", "change_handsoff"]

TEMPLATES = [
    # name, channel, delay in hours, subject, body
    (
        "Thank you for your first purchase", "email", 48,
        "Thank you, {{ client.first_name }}",
        "Dear {{ client.name }},\n\n"
        "Thank you for choosing {{ boutique.name }}. We hope your new piece brings you joy"
        "{% if last_order %} (your order of {{ last_order.total }} {{ last_order.currency }}){% endif %}.\n\n"
        "{% if recommended_products %}You may also like: {% for product in recommended_products %}"
        "{{ product.name }}{% if not forloop.last %}, {% endif %}{% endfor %}.\n\n{% endif %}"
        "Should you need anything, I am at your disposal.\n\n{{ advisor.name }}",
    ),
    (
        "We miss you", "email", 0,
        "{{ client.first_name }}, it has been a while",
        "Dear {{ client.name }},\n\n"
        "It has been some time since your last visit to {{ boutique.name }}. Our new collection has arrived, and "
        "I would be delighted to show it to you{% if preferences.categories %}, starting with "
        "{{ preferences.categories|join:\", \" }}{% endif %}.\n\n"
        "{% if recommended_products %}A few pieces I thought of for you: {% for product in recommended_products %}"
        "{{ product.name }}{% if not forloop.last %}, {% endif %}{% endfor %}.\n\n{% endif %}"
        "{{ advisor.name }}",
    ),
    (
        "Cart abandoned: call the client", "advisor_task", 4,
        "Call {{ client.name }} about their cart",
        "{{ client.name }} left a cart online. Call them to offer help, an appointment at {{ boutique.name }} or "
        "to set pieces aside.",
    ),
]

# name, priority, stop, trigger, touchpoint types, from stages, enrolls new clients, conditions, to stage, template
RULES = [
    ("Second purchase within a year → Loyalty", 10, True, "interaction", ["purchase"],
     ["purchase", "post_purchase"], False, {"min_count": 2, "window_days": 365}, "loyalty", None),
    ("First purchase → Purchase, with a thank-you", 20, True, "interaction", ["purchase"],
     ["awareness", "consideration"], True, {}, "purchase", "Thank you for your first purchase"),
    ("Referral → Advocacy", 30, True, "interaction", ["referral"], [], True, {}, "advocacy", None),
    ("Promoter (NPS 9–10) → Advocacy", 40, True, "interaction", ["survey_answered"], [], False,
     {"min_score": 9}, "advocacy", None),
    ("Cart abandoned → Consideration", 50, False, "interaction", ["cart_abandoned"], ["awareness"], True, {},
     "consideration", None),
    ("Cart abandoned by a top-tier client → advisor task", 60, False, "interaction", ["cart_abandoned"], [], False,
     {"min_tier": "platinum"}, None, "Cart abandoned: call the client"),
    ("Seven days after a purchase → Post-purchase", 100, False, "time_in_stage", [], ["purchase"], False,
     {"days": 7}, "post_purchase", None),
    ("No purchase for a year → Consideration, with a win-back email", 110, False, "inactivity", ["purchase"],
     ["purchase", "post_purchase", "loyalty", "advocacy"], False, {"days": 365}, "consideration", "We miss you"),
]


def install(apps, schema_editor):
    Journey = apps.get_model("journeys", "Journey")
    Rule = apps.get_model("journeys", "Rule")
    FollowUpTemplate = apps.get_model("journeys", "FollowUpTemplate")
    FollowUpVariant = apps.get_model("journeys", "FollowUpVariant")
    TouchpointType = apps.get_model("touchpoints", "TouchpointType")
    journey = Journey.objects.filter(slug="client-lifecycle").first()
    if journey is None:
        return
    templates = {}
    for name, channel, delay_hours, subject, body in TEMPLATES:
        template, created = FollowUpTemplate.objects.get_or_create(
            name=name, defaults={"channel": channel, "delay_hours": delay_hours}
        )
        if created:
            FollowUpVariant.objects.create(template=template, label="A", weight=1, subject=subject, body=body)
        templates[name] = template
    stages = {stage.key: stage for stage in journey.stages.all()}
    for name, priority, stop, trigger, types, from_stages, enrolls, conditions, to_stage, template in RULES:
        if Rule.objects.filter(journey=journey, name=name).exists():
            continue
        rule = Rule.objects.create(
            journey=journey, name=name, priority=priority, stop_processing=stop, trigger=trigger,
            enrolls_new_clients=enrolls, to_stage=stages[to_stage] if to_stage else None,
            followup_template=templates[template] if template else None, **conditions,
        )
        rule.touchpoint_types.set(TouchpointType.objects.filter(code__in=types))
        rule.from_stages.set([stages[key] for key in from_stages])


def remove(apps, schema_editor):
    Rule = apps.get_model("journeys", "Rule")
    FollowUpTemplate = apps.get_model("journeys", "FollowUpTemplate")
    Rule.objects.filter(journey__slug="client-lifecycle", name__in=[row[0] for row in RULES]).delete()
    FollowUpTemplate.objects.filter(name__in=[row[0] for row in TEMPLATES], followups__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("journeys", "0007_rules_conditions_and_hands_off"),
        ("touchpoints", "0002_standard_touchpoint_types"),
        ("customers", "0004_staff_roles"),
    ]
    operations = [
        migrations.RunPython(install, remove),
        *[
            group_permissions_operation("journeys", group, HANDS_OFF_PERMISSIONS)
            for group in ("Advisor", "Boutique manager", "Head office")
        ],
    ]
