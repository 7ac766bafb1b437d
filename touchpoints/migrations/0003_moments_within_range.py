"""Dates out of the accepted range (core.moments) brought back into it, each change recorded in core_momentrepair,
then CHECK constraints that keep them there: a date before 1900 becomes 1900-01-01T00:00Z, a date after the
range's end (one day from now for what happened, ten years for what is due) becomes that end."""

import datetime
from django.db import migrations, models

from core.moments import HAPPENED_LATEST_SQL, repair_sql


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0002_moment_repairs'),
        ('touchpoints', '0002_standard_touchpoint_types'),
    ]

    operations = [
        migrations.RunSQL(repair_sql('touchpoints_interaction', 'occurred_at', latest=HAPPENED_LATEST_SQL), migrations.RunSQL.noop),
        migrations.RunSQL(repair_sql('touchpoints_order', 'placed_at', latest=HAPPENED_LATEST_SQL), migrations.RunSQL.noop),
        migrations.AddConstraint(
            model_name='interaction',
            constraint=models.CheckConstraint(condition=models.Q(('occurred_at__gte', datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.UTC)), ('occurred_at__lt', datetime.datetime(2200, 1, 1, 0, 0, tzinfo=datetime.UTC))), name='interaction_occurred_at_in_range'),
        ),
        migrations.AddConstraint(
            model_name='order',
            constraint=models.CheckConstraint(condition=models.Q(('placed_at__gte', datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.UTC)), ('placed_at__lt', datetime.datetime(2200, 1, 1, 0, 0, tzinfo=datetime.UTC))), name='order_placed_at_in_range'),
        ),
    ]
