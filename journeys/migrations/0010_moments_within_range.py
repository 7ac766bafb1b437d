"""Dates out of the accepted range (core.moments) brought back into it, each change recorded in core_momentrepair,
then CHECK constraints that keep them there: a date before 1900 becomes 1900-01-01T00:00Z, a date after the
range's end (one day from now for what happened, ten years for what is due) becomes that end."""

import datetime
from django.db import migrations, models

from core.moments import DUE_LATEST_SQL, HAPPENED_LATEST_SQL, repair_sql


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0002_moment_repairs'),
        ('journeys', '0009_followup_handled_by'),
    ]

    operations = [
        migrations.RunSQL(repair_sql('journeys_enrollment', 'enrolled_at', latest=HAPPENED_LATEST_SQL), migrations.RunSQL.noop),
        migrations.RunSQL(repair_sql('journeys_enrollment', 'stage_entered_at', latest=HAPPENED_LATEST_SQL), migrations.RunSQL.noop),
        migrations.RunSQL(repair_sql('journeys_transition', 'occurred_at', latest=HAPPENED_LATEST_SQL), migrations.RunSQL.noop),
        migrations.RunSQL(repair_sql('journeys_followup', 'due_at', latest=DUE_LATEST_SQL), migrations.RunSQL.noop),
        migrations.RunSQL(repair_sql('journeys_handsoff', 'until', latest=DUE_LATEST_SQL), migrations.RunSQL.noop),
        migrations.AddConstraint(
            model_name='enrollment',
            constraint=models.CheckConstraint(condition=models.Q(('enrolled_at__gte', datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.UTC)), ('enrolled_at__lt', datetime.datetime(2200, 1, 1, 0, 0, tzinfo=datetime.UTC))), name='enrollment_enrolled_at_in_range'),
        ),
        migrations.AddConstraint(
            model_name='enrollment',
            constraint=models.CheckConstraint(condition=models.Q(('stage_entered_at__gte', datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.UTC)), ('stage_entered_at__lt', datetime.datetime(2200, 1, 1, 0, 0, tzinfo=datetime.UTC))), name='enrollment_stage_entered_at_in_range'),
        ),
        migrations.AddConstraint(
            model_name='followup',
            constraint=models.CheckConstraint(condition=models.Q(('due_at__gte', datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.UTC)), ('due_at__lt', datetime.datetime(2200, 1, 1, 0, 0, tzinfo=datetime.UTC))), name='followup_due_at_in_range'),
        ),
        migrations.AddConstraint(
            model_name='handsoff',
            constraint=models.CheckConstraint(condition=models.Q(('until__gte', datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.UTC)), ('until__lt', datetime.datetime(2200, 1, 1, 0, 0, tzinfo=datetime.UTC))), name='hands_off_until_in_range'),
        ),
        migrations.AddConstraint(
            model_name='transition',
            constraint=models.CheckConstraint(condition=models.Q(('occurred_at__gte', datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.UTC)), ('occurred_at__lt', datetime.datetime(2200, 1, 1, 0, 0, tzinfo=datetime.UTC))), name='transition_occurred_at_in_range'),
        ),
    ]
