"""Indexes for a boutique's client list at a million clients: its page in order, and its count by tier.

Built CONCURRENTLY, so that adding them to a live house's clients table does not block writes.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("customers", "0006_search_indexes"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="customer",
            index=models.Index(
                fields=["home_boutique", "last_name", "first_name", "id"], name="customer_boutique_name_idx"
            ),
        ),
        AddIndexConcurrently(
            model_name="customer",
            index=models.Index(fields=["home_boutique", "value_tier"], name="customer_boutique_tier_idx"),
        ),
    ]
