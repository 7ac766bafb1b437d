"""Journeys' API: journey maps (read), enrollments with their transitions (read), and stage moves."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.idempotency import idempotent
from journeys.api.serializers import (
    EnrollmentSerializer,
    JourneySerializer,
    StageMoveSerializer,
    TransitionSerializer,
)
from journeys.filters import EnrollmentFilterSet
from journeys.models import Enrollment, Journey, Stage, Transition
from journeys.services import enrollment_move

JOURNEYS_READ = "journeys:read"
JOURNEYS_WRITE = "journeys:write"
MOVE_PERMISSION = "journeys.change_enrollment"


class CanMoveStage(permissions.BasePermission):
    """A stage move: a key with journeys:write, or staff who may move a client by hand in the admin
    (journeys.change_enrollment, not the add permission a POST otherwise asks for)."""

    message = "You may not move clients between stages."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        if getattr(user, "is_api_key", False):
            self.message = f"This API key lacks the scope {JOURNEYS_WRITE}."
            return JOURNEYS_WRITE in user.scopes
        self.message = f"You need the permission {MOVE_PERMISSION}."
        return bool(user.is_active and user.is_staff and user.has_perm(MOVE_PERMISSION))


class JourneyViewSet(viewsets.ReadOnlyModelViewSet):
    """Journey maps and their stages, in order."""

    queryset = Journey.objects.prefetch_related(Prefetch("stages", queryset=Stage.objects.order_by("position")))
    serializer_class = JourneySerializer
    ordering = ("name",)
    ordering_fields = ["name"]
    read_scope = JOURNEYS_READ


class EnrollmentViewSet(viewsets.ReadOnlyModelViewSet):
    """Clients in journeys: the current stage and every move that brought them there."""

    queryset = Enrollment.objects.all()
    serializer_class = EnrollmentSerializer
    filterset_class = EnrollmentFilterSet
    ordering = ("-enrolled_at", "-pk")
    ordering_fields = ["enrolled_at", "stage_entered_at", "updated_at"]
    read_scope = JOURNEYS_READ
    write_scope = JOURNEYS_WRITE

    def get_queryset(self):
        enrollments = Enrollment.objects.visible_to(self.request.user)
        if self.action == "move":
            return enrollments
        transitions = Transition.objects.select_related("actor").order_by("-occurred_at", "-pk")
        return enrollments.select_related("customer", "stage").prefetch_related(
            Prefetch("transitions", queryset=transitions)
        ).order_by("-enrolled_at", "-pk")

    def get_permissions(self) -> list[permissions.BasePermission]:
        if self.action == "move":
            return [CanMoveStage()]
        return super().get_permissions()

    @extend_schema(request=StageMoveSerializer, responses={201: TransitionSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def move(self, request: Request, pk: str | None = None) -> Response:
        """Move the client to another stage of the journey; writes a Transition with cause api and the caller
        (the staff member, or the API key) as actor."""
        enrollment = self.get_object()
        serializer = StageMoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        is_key = getattr(request.user, "is_api_key", False)
        transition = enrollment_move(
            enrollment=enrollment,
            to_stage=serializer.validated_data["stage"],
            cause=Transition.Cause.API,
            actor=None if is_key else request.user,
            actor_label=str(request.user) if is_key else "",
            note=serializer.validated_data["note"],
        )
        return Response(TransitionSerializer(transition).data, status=status.HTTP_201_CREATED)
