# The rollups (0001_initial) and foresight (0001_predictions, 0002_alerts) were built side by side; this joins them.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("insight", "0001_initial"),
        ("insight", "0002_alerts"),
    ]

    operations = []
