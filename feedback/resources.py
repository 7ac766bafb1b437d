"""Feedback responses as rows of a file (django-import-export): the survey by name, the client by public id."""

from __future__ import annotations

from import_export.fields import Field
from import_export.widgets import ForeignKeyWidget, IntegerWidget

from core.resources import ExportResource
from feedback.models import Response, Survey

RESPONSE_COLUMNS = ("survey", "public_id", "score", "comment", "responded_at", "source", "external_id", "answers")


class ResponseResource(ExportResource):
    """A client's answer, keyed on (source, external_id) when its source gave it an id.

    Answers given in Atelier itself have no external id; the importer finds those again by (survey, public_id,
    responded_at) (imports/columns.md).
    """

    survey = Field(attribute="survey", column_name="survey", widget=ForeignKeyWidget(Survey, field="name"))
    public_id = Field(attribute="customer__public_id", column_name="public_id")
    score = Field(attribute="score", column_name="score", widget=IntegerWidget())

    export_select_related = ("survey", "customer")

    class Meta:
        model = Response
        fields = RESPONSE_COLUMNS
        export_order = RESPONSE_COLUMNS
        import_id_fields = ("source", "external_id")
