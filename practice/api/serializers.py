from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .. import selectors, spreadsheets
from ..choices import Role, UnitKind
from ..models import UNIT_EDITABLE_FIELDS, Category, RoleAssignment, Unit, User
from ..tree import UnitRow

__all__ = [
    "CategorySerializer",
    "RoleAssignmentSerializer",
    "UnitImportResultSerializer",
    "UnitImportSerializer",
    "UnitSerializer",
    "UnitStatsSerializer",
    "UserSerializer",
]


class UnitSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=UnitKind.choices)
    # DRF's stubs type ``Field.parent`` (the enclosing serializer) and a field named
    # "parent" shadows it; the contract fixes the name.
    parent = serializers.PrimaryKeyRelatedField(  # type: ignore[assignment]
        queryset=Unit.objects.all(), allow_null=True, required=False
    )
    parent_name = serializers.SerializerMethodField()
    path = serializers.SerializerMethodField()
    descendant_count = serializers.SerializerMethodField()
    latitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, allow_null=True, required=False, coerce_to_string=False
    )
    longitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, allow_null=True, required=False, coerce_to_string=False
    )

    class Meta:
        model = Unit
        fields = [
            "id",
            *UNIT_EDITABLE_FIELDS,
            "parent",
            "parent_name",
            "is_active",
            "level",
            "path",
            "descendant_count",
        ]
        read_only_fields = ["id", "level", "path", "parent_name", "descendant_count"]
        # Uniqueness among siblings is checked by the service with a clear message.
        validators: list[Any] = []

    def _path(self, obj: Unit) -> list[str]:
        # A list passes every row's path in the context (one query); a single unit reads
        # its ancestors once, for both ``path`` and ``parent_name``.
        paths = self.context.setdefault("paths", {})
        if obj.pk not in paths:
            paths.update(selectors.unit_paths([obj]))
        return paths[obj.pk]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_path(self, obj: Unit) -> list[str]:
        return self._path(obj)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_parent_name(self, obj: Unit) -> str | None:
        path = self._path(obj)
        return path[-2] if len(path) > 1 else None

    def get_descendant_count(self, obj: Unit) -> int:
        return obj.descendant_total


class UnitImportSerializer(serializers.Serializer):
    # Validated, ``file`` holds the workbook's rows (``UnitRow``), not the upload.
    file = serializers.FileField(
        help_text=_(
            "An Excel workbook (.xlsx) of at most 5 MB and 5,000 rows, laid out as the export."
        )
    )

    def validate_file(self, upload: Any) -> list[UnitRow]:
        # Problems with the file itself raise the portal's errors (400 invalid_file, 413).
        return spreadsheets.read_upload(upload)


class UnitImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text=_("Number of units created."))
    units = serializers.ListField(
        child=serializers.IntegerField(),
        help_text=_("Ids of the units created directly under this one."),
    )


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["code", "name", "name_en"]


class RoleAssignmentSerializer(serializers.ModelSerializer):
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())
    unit = serializers.PrimaryKeyRelatedField(queryset=Unit.objects.all())
    role = serializers.ChoiceField(choices=Role.choices)
    user_name = serializers.CharField(source="user.display_name", read_only=True)
    unit_name = serializers.CharField(source="unit.name", read_only=True)
    granted_by_name = serializers.CharField(
        source="granted_by.display_name", read_only=True, default=None
    )

    class Meta:
        model = RoleAssignment
        fields = [
            "id",
            "user",
            "user_name",
            "unit",
            "unit_name",
            "role",
            "granted_by",
            "granted_by_name",
            "created_at",
        ]
        read_only_fields = ["id", "granted_by", "created_at"]
        validators: list[Any] = []


class UserRoleSerializer(serializers.ModelSerializer):
    unit_name = serializers.CharField(source="unit.name", read_only=True)

    class Meta:
        model = RoleAssignment
        fields = ["id", "unit", "unit_name", "role"]


class UserSerializer(serializers.ModelSerializer):
    phone = serializers.CharField(
        write_only=True, required=False, allow_blank=True, help_text=_("11-digit mobile number")
    )
    phone_masked = serializers.CharField(read_only=True)
    password = serializers.CharField(
        write_only=True, required=False, style={"input_type": "password"}, trim_whitespace=False
    )
    roles = UserRoleSerializer(source="role_assignments", many=True, read_only=True)
    unit = serializers.PrimaryKeyRelatedField(
        queryset=Unit.objects.all(),
        write_only=True,
        required=False,
        help_text=_("Optional on create: grant `role` on this unit at once."),
    )
    role = serializers.ChoiceField(choices=Role.choices, write_only=True, required=False)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "name",
            "phone",
            "phone_masked",
            "password",
            "is_active",
            "roles",
            "unit",
            "role",
            "date_joined",
            "last_login",
        ]
        read_only_fields = ["id", "date_joined", "last_login"]
        extra_kwargs: dict[str, dict[str, Any]] = {"username": {"validators": []}}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None and not attrs.get("password"):
            raise serializers.ValidationError({"password": [_("This field is required.")]})
        if self.instance is not None:
            for field in ("username", "unit", "role"):
                if field in attrs:
                    raise serializers.ValidationError(
                        {field: [_("This field cannot be changed here.")]}
                    )
        return attrs


class CountsByKindSerializer(serializers.Serializer):
    institute = serializers.IntegerField()
    station = serializers.IntegerField()
    point = serializers.IntegerField()


class RequestCountsSerializer(serializers.Serializer):
    submitted = serializers.IntegerField()
    completed = serializers.IntegerField()
    rejected = serializers.IntegerField()
    open = serializers.IntegerField()
    average_rating = serializers.FloatField(allow_null=True)


class CategoryStatsSerializer(serializers.Serializer):
    category = serializers.CharField()
    activities = serializers.IntegerField()
    beneficiaries = serializers.IntegerField()
    materials = serializers.IntegerField()
    volunteer_hours = serializers.CharField()


class ChildStatsSerializer(serializers.Serializer):
    unit = serializers.IntegerField()
    name = serializers.CharField()
    activities = serializers.IntegerField()
    beneficiaries = serializers.IntegerField()


class UnitStatsSerializer(serializers.Serializer):
    """Documents the stats rollup (the data is built by ``selectors.unit_stats``)."""

    unit = serializers.IntegerField()
    units = CountsByKindSerializer()
    volunteers = serializers.IntegerField()
    teams = serializers.IntegerField()
    activities = serializers.IntegerField()
    beneficiaries = serializers.IntegerField()
    materials = serializers.IntegerField()
    volunteer_hours = serializers.CharField()
    requests = RequestCountsSerializer()
    by_category = CategoryStatsSerializer(many=True)
    by_child = ChildStatsSerializer(many=True)

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["from"] = serializers.DateField(allow_null=True)
        fields["to"] = serializers.DateField(allow_null=True)
        return fields


class StatsQuerySerializer(serializers.Serializer):
    def get_fields(self) -> dict[str, Any]:
        return {
            "from": serializers.DateField(required=False, allow_null=True),
            "to": serializers.DateField(required=False, allow_null=True),
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("from") and attrs.get("to") and attrs["from"] > attrs["to"]:
            raise serializers.ValidationError({"to": [_("“to” must not be before “from”.")]})
        return attrs


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
