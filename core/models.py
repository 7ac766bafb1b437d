"""Abstract bases shared by the domain apps."""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class TimeStampedModel(models.Model):
    """Adds `created_at` and `updated_at`, kept by the database row's own saves."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class IdempotentRequest(models.Model):
    """A POST made with an `Idempotency-Key` header and the response it got (core.idempotency).

    A retry with the same key from the same caller gets the stored response and changes nothing; the unique
    constraint makes a concurrent duplicate wait for the first request and then replay its response.
    """

    key = models.CharField(max_length=255)
    principal = models.CharField(max_length=64, help_text='Who sent it: "user:<id>" or "key:<prefix>".')
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=400)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of the request body.")
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["principal", "key"], name="idempotent_request_unique_key_per_principal")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.key})"


class MomentRepair(models.Model):
    """A stored date that was out of the accepted range (core.moments) and what a migration set it to.

    Written only by the migrations that repaired such dates, before their CHECK constraints were added: the original
    value is kept as text because Python cannot read it as a date (a year before Christ, a year after 9999).
    """

    table_name = models.CharField(max_length=63)
    row_id = models.BigIntegerField()
    column_name = models.CharField(max_length=63)
    original = models.TextField()
    repaired_to = models.DateTimeField()
    repaired_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["table_name", "row_id"], name="moment_repair_row_idx")]

    def __str__(self) -> str:
        return f"{self.table_name}.{self.column_name} #{self.row_id}: {self.original} → {self.repaired_to}"
