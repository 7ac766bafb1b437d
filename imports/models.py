"""Import batches: who brought which file in, how it was read, what it did, and how to take it back."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q

from core.models import TimeStampedModel


class ImportKind(models.TextChoices):
    """What a legacy file holds; each kind has its columns (imports.kinds) and its resource for exports."""

    CUSTOMERS = "customers", "Clients"
    ORDERS = "orders", "Orders (one row per line)"
    INTERACTIONS = "interactions", "Interactions"
    RESPONSES = "responses", "Feedback responses"
    PERSONAS = "personas", "Personas"
    PRODUCTS = "products", "Products"
    BOUTIQUES = "boutiques", "Boutiques"


class ImportBatch(TimeStampedModel):
    """One import of one file: its record (who, when, file and checksum, mapping, counts, errors) and the
    anchor of every row it created or changed (ImportChange), so it can be reviewed and rolled back."""

    class Status(models.TextChoices):
        PREVIEWED = "previewed", "Previewed (dry run)"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        IMPORTED = "imported", "Imported"
        REJECTED = "rejected", "Rejected (invalid rows, nothing written)"
        FAILED = "failed", "Failed"
        ROLLED_BACK = "rolled_back", "Rolled back"

    kind = models.CharField(max_length=16, choices=ImportKind.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    file_name = models.CharField(max_length=255)
    file_size = models.BigIntegerField(default=0)
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the file as uploaded.")
    stored_file = models.FileField(upload_to="imports/%Y/%m/", blank=True, help_text="Kept for queued imports.")
    encoding = models.CharField(max_length=32, blank=True)
    delimiter = models.CharField(max_length=4, blank=True)
    mapping = models.JSONField(default=dict, blank=True, help_text="The column mapping the file was read with.")
    is_dry_run = models.BooleanField(default=False)
    valid_rows_only = models.BooleanField(
        default=False, help_text="Import the valid rows and report the others, instead of refusing the whole file."
    )
    runs_automation = models.BooleanField(
        default=False, help_text="Let journey rules react to what this import brings (off for history)."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    processed_rows = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True, help_text='{"new": 0, "updated": 0, "unchanged": 0, ...}')
    preview = models.JSONField(default=dict, blank=True, help_text="The first rows of each outcome, for review.")
    failure = models.TextField(blank=True)
    rolled_back_at = models.DateTimeField(null=True, blank=True)
    rolled_back_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "import batches"
        ordering = ["-created_at"]
        permissions = [("rollback_importbatch", "Can roll back an import")]
        indexes = [
            models.Index(fields=["kind", "checksum"], name="import_batch_file_idx"),
            models.Index(fields=["-created_at"], name="import_batch_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(total_rows__isnull=True) | Q(processed_rows__lte=models.F("total_rows")),
                name="import_batch_progress_within_total",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} from {self.file_name} ({self.created_at:%Y-%m-%d %H:%M})"


class ImportProgress(models.Model):
    """How far an import running in a worker has read, written outside the import's own transaction.

    The import holds every write (the batch row's included) until it commits, so the admin would see nothing
    move; this row is written through its own connection (settings.IMPORTS_PROGRESS_DATABASE) as the rows are read.
    No database constraint to the batch: that connection must never wait on, or fail with, the import's transaction.
    """

    batch = models.OneToOneField(
        ImportBatch, primary_key=True, on_delete=models.CASCADE, db_constraint=False, related_name="progress"
    )
    processed_rows = models.PositiveIntegerField(default=0)
    estimated_rows = models.PositiveIntegerField(
        null=True, blank=True, help_text="Lines in the file, when it is text: about how many rows to expect."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "import progress"

    def __str__(self) -> str:
        return f"batch {self.batch_id}: {self.processed_rows} rows"


# A batch in one of these is over (nothing runs it any more); its stored file is needed only to confirm a preview.
FINISHED_STATUSES = (
    ImportBatch.Status.PREVIEWED,
    ImportBatch.Status.IMPORTED,
    ImportBatch.Status.REJECTED,
    ImportBatch.Status.FAILED,
    ImportBatch.Status.ROLLED_BACK,
)


class ImportRowError(models.Model):
    """A row the import refused: where (line, column), why in words a person understands, and the row itself."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="row_errors")
    line = models.PositiveIntegerField(help_text="Line number in the file (the header is line 1).")
    column = models.CharField(max_length=120, blank=True, help_text="The file's own column name.")
    message = models.CharField(max_length=500)
    row = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["batch", "line", "pk"]
        indexes = [models.Index(fields=["batch", "line"], name="import_error_batch_line_idx")]

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ImportChange(models.Model):
    """A row an import created or changed, with what it was before a change, so the import can be rolled back."""

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="changes")
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.BigIntegerField()
    action = models.CharField(max_length=8, choices=Action.choices)
    before = models.JSONField(null=True, blank=True, help_text="The changed fields' values before the import.")

    class Meta:
        indexes = [
            models.Index(fields=["batch", "content_type"], name="import_change_batch_idx"),
            models.Index(fields=["content_type", "object_id"], name="import_change_object_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.content_type_id}:{self.object_id}"
