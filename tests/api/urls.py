"""A small POST endpoint for the idempotency tests: the real stack (auth, permission, idempotency, database)."""

import time

from django.urls import include, path
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.idempotency import idempotent
from customers.models import Persona


class PersonaInput(serializers.Serializer):
    name = serializers.CharField(max_length=80)


class PersonaCreateView(APIView):
    permission_model = Persona
    write_scope = "customers:write"

    @idempotent
    def post(self, request):
        data = PersonaInput(data=request.data)
        data.is_valid(raise_exception=True)
        name = data.validated_data["name"]
        if name.startswith("Slow"):
            time.sleep(0.3)  # holds the transaction open, so concurrent duplicates really overlap
        persona = Persona.objects.create(name=name, slug=name.lower().replace(" ", "-"))
        return Response({"id": persona.pk, "name": persona.name}, status=201)


urlpatterns = [
    path("api/v1/", include("config.api_urls")),
    path("test/personas/", PersonaCreateView.as_view()),
]
