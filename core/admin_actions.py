"""What every ModelAdmin's actions share (mixed into each by the admin site, desk.site.AtelierAdminSite)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpResponseRedirect

from core.querystrings import int_id


class ActionSelectionCheckMixin:
    """An action's selection (`_selected_action`) holding a value that is no id of the list's rows is refused with a
    message, where Django's filter(pk__in=...) would raise a 500. The admin site mixes it into every ModelAdmin."""

    def response_action(self, request, queryset):  # noqa: ANN001, ANN201 (Django's signature)
        pk_field = self.model._meta.pk
        is_integer = isinstance(pk_field, models.AutoField | models.BigAutoField | models.IntegerField)
        for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
            try:
                is_id = int_id(value) is not None if is_integer else pk_field.to_python(value) not in (None, "")
            except ValidationError:
                is_id = False
            if not is_id:
                self.message_user(request, f"{value!r} is not the id of a {self.model._meta.verbose_name}.",
                                  messages.ERROR)
                return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset)
