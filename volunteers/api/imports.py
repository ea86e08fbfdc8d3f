"""``/api/v1/volunteers/import/``: register volunteers from a workbook, in the background
(``volunteers.spreadsheets``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal import imports as jobs
from portal.api.fields import BoundedPrimaryKeyRelatedField
from portal.errors import NotFound
from portal.models import ImportJob
from practice.models import Unit
from practice.permissions import Action, require

from .. import spreadsheets as sheets

__all__ = ["VolunteerImportJobView", "VolunteerImportView"]

# Bytes a multipart body carries besides the file (boundaries, the other fields).
MULTIPART_SLACK = 64 * 1024


class VolunteerImportUnitSerializer(serializers.Serializer):
    unit = BoundedPrimaryKeyRelatedField(queryset=Unit.objects.all())


class VolunteerImportSerializer(serializers.Serializer):
    unit = BoundedPrimaryKeyRelatedField(
        queryset=Unit.objects.all(),
        help_text="The unit to import into: home units are found under it.",
    )
    # Validated, ``file`` holds the workbook's rows, not the upload.
    file = serializers.FileField(
        help_text="An Excel workbook (.xlsx) of at most 20 MB and 60,000 rows (the template's "
        "columns)."
    )

    def validate_file(self, upload: Any) -> list[dict[str, Any]]:
        return sheets.read_upload(upload)


class VolunteerImportJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    unit = serializers.IntegerField(source="target_id")
    filename = serializers.CharField()
    status = serializers.CharField(help_text="`queued`, `running`, `done` or `failed`.")
    finished = serializers.BooleanField()
    done = serializers.IntegerField(help_text="Rows processed so far.")
    total = serializers.IntegerField()
    created = serializers.IntegerField(help_text="Volunteers registered (when done).")
    existing = serializers.IntegerField(help_text="Rows already registered, skipped.")
    invalid = serializers.IntegerField(help_text="Rows left out for their problems.")
    problems = serializers.ListField(
        child=serializers.ListField(),
        help_text="`[row, column, message]` for each problem of a row left out.",
    )
    error = serializers.DictField(help_text="Why a failed job failed (the error shape).")


def _job_data(job: ImportJob) -> dict[str, Any]:
    state = jobs.status(job)
    result = job.result or {}
    return {
        "id": job.pk,
        "target_id": job.target_id,
        "filename": job.filename,
        "status": job.status,
        "finished": job.finished,
        "done": state["done"],
        "total": state["total"],
        "created": result.get("created", 0),
        "existing": result.get("existing", 0),
        "invalid": result.get("invalid", 0),
        "problems": result.get("errors", []),
        "error": job.error or {},
    }


class VolunteerImportView(APIView):
    permission_classes = [permissions.IsAuthenticated]
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="volunteers_import",
        request={"multipart/form-data": VolunteerImportSerializer},
        responses={
            202: VolunteerImportJobSerializer,
            400: OpenApiResponse(
                description="`invalid_file`: not a readable .xlsx, no header row, a required "
                "column missing, more than 60,000 rows (`detail.file`)."
            ),
            413: OpenApiResponse(description="`file_too_large`: the file is over 20 MB."),
        },
    )
    def post(self, request: Request) -> Response:
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared.isdigit():
            sheets.xlsx.check_size(int(declared) - MULTIPART_SLACK, sheets.MAX_FILE_BYTES)
        # Where first (404 outside the scope, 403 without the role), then the file.
        target = VolunteerImportUnitSerializer(data=request.data)
        target.is_valid(raise_exception=True)
        unit = target.validated_data["unit"]
        if not Unit.objects.for_user(request.user, Action.VIEW).filter(pk=unit.pk).exists():
            raise NotFound()
        require(request.user, Action.MANAGE_VOLUNTEERS, unit)
        upload = VolunteerImportSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        file = request.data["file"]
        job = sheets.start_import(
            actor=request.user,  # type: ignore[arg-type]
            unit=unit,
            filename=getattr(file, "name", "") or "",
            rows=upload.validated_data["file"],
        )
        body = VolunteerImportJobSerializer(_job_data(job)).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class VolunteerImportJobView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(operation_id="volunteers_import_job", responses=VolunteerImportJobSerializer)
    def get(self, request: Request, job: int) -> Response:
        found = ImportJob.objects.filter(
            pk=job, actor_id=request.user.pk, kind=sheets.IMPORT_KIND
        ).first()
        if found is None:
            raise NotFound()
        return Response(VolunteerImportJobSerializer(_job_data(found)).data)
