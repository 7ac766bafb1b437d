"""Dates out of the accepted range (core.moments) brought back into it, each change recorded in core_momentrepair,
then CHECK constraints that keep them there: a date before 1900 becomes 1900-01-01T00:00Z, a date after the
range's end (one day from now for what happened, ten years for what is due) becomes that end."""

import datetime
from django.db import migrations, models

from core.moments import HAPPENED_LATEST_SQL, repair_sql


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0002_moment_repairs'),
        ('feedback', '0004_recovery_case'),
    ]

    operations = [
        migrations.RunSQL(repair_sql('feedback_response', 'responded_at', latest=HAPPENED_LATEST_SQL), migrations.RunSQL.noop),
        migrations.AddConstraint(
            model_name='response',
            constraint=models.CheckConstraint(condition=models.Q(('responded_at__gte', datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.UTC)), ('responded_at__lt', datetime.datetime(2200, 1, 1, 0, 0, tzinfo=datetime.UTC))), name='response_responded_at_in_range'),
        ),
    ]
