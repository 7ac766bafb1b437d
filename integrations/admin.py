"""API keys in the admin: created here (the key is shown once, then only its hash is kept) and revoked here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from integrations.models import ApiKey, Scope
from integrations.services import api_keys_revoke

# The library registers its own concrete model; Atelier's keys are integrations.ApiKey only.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


class ApiKeyForm(forms.ModelForm):
    scopes = forms.TypedMultipleChoiceField(
        choices=Scope.choices, widget=forms.CheckboxSelectMultiple, required=False,
        help_text="What the key may do; a key with no scope may call nothing.",
    )

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "boutiques", "expiry_date", "revoked"]


@admin.register(ApiKey)
class ApiKeyAdmin(APIKeyModelAdmin):
    form = ApiKeyForm
    list_display = ("prefix", "name", "scope_list", "created", "last_used_at", "expiry_date", "_has_expired", "revoked")
    list_filter = ("revoked", "created")
    filter_horizontal = ("boutiques",)
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return (*super().get_readonly_fields(request, obj), "last_used_at", "created_by")

    @admin.display(description="Scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes)

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any = None, change: bool = False) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description="Revoke the selected keys (final)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = api_keys_revoke(keys=queryset)
        self.message_user(request, f"{count} key{'s' if count != 1 else ''} revoked.", messages.SUCCESS)
