from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portal.api.fields import BoundedPrimaryKeyRelatedField
from portal.api.serializers import ModelSerializer

from .. import selectors, spreadsheets
from ..audit import describe
from ..choices import Role, UnitKind
from ..models import UNIT_EDITABLE_FIELDS, AuditEntry, Category, RoleAssignment, Unit, User
from ..permissions import manageable_accounts, may_manage_account
from ..tree import UnitRow

__all__ = [
    "AuditEntrySerializer",
    "CategorySerializer",
    "RoleAssignmentSerializer",
    "UnitImportPreviewSerializer",
    "UnitImportQuerySerializer",
    "UnitImportResultSerializer",
    "UnitImportSerializer",
    "UnitSerializer",
    "UnitStatsSerializer",
    "UserSerializer",
]


_MICRO_DEGREE = Decimal("0.000001")

# What a unit's representation reads (the list reads only these, as plain rows).
UNIT_READ_FIELDS = (
    "id",
    *UNIT_EDITABLE_FIELDS,
    "parent_id",
    "is_active",
    "level",
    "tree_id",
    "lft",
    "rght",
)


@dataclass(slots=True)
class UnitListRow:
    """A unit as the list reads it: a row of ``values(*UNIT_READ_FIELDS, "active_below")``
    with what the representation asks of a :class:`Unit` (building 100 model instances was
    a quarter of a page of the list)."""

    id: int
    name: str
    kind: str
    division_code: str
    address: str
    contact_name: str
    contact_phone: str
    opening_hours: str
    latitude: Decimal | None
    longitude: Decimal | None
    parent_id: int | None
    is_active: bool
    level: int
    tree_id: int
    lft: int
    rght: int
    active_below: int | None = None

    @property
    def pk(self) -> int:
        return self.id

    @property
    def descendant_total(self) -> int:
        return (self.rght - self.lft - 1) // 2 if self.rght and self.lft else 0


class UnitSerializer(ModelSerializer):
    kind = serializers.ChoiceField(choices=UnitKind.choices)
    # DRF's stubs type ``Field.parent`` (the enclosing serializer) and a field named
    # "parent" shadows it; the contract fixes the name.
    parent = BoundedPrimaryKeyRelatedField(  # type: ignore[assignment]
        queryset=Unit.objects.all(), allow_null=True, required=False
    )
    parent_name = serializers.SerializerMethodField()
    path = serializers.SerializerMethodField()
    descendant_count = serializers.SerializerMethodField(
        help_text=_("Active units below this one (inactive ones are not counted).")
    )
    cascade = serializers.BooleanField(
        write_only=True,
        required=False,
        help_text=_("With is_active false: deactivate it and every active unit below at once."),
    )
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
            "cascade",
        ]
        read_only_fields = ["id", "level", "path", "parent_name", "descendant_count"]
        # Uniqueness among siblings is checked by the service with a clear message.
        validators: list[Any] = []

    def _path(self, obj: Unit | UnitListRow) -> list[str]:
        # A list passes every row's path in the context (one query); a single unit reads
        # its ancestors once, for both ``path`` and ``parent_name``.
        paths = self.context.setdefault("paths", {})
        if obj.pk not in paths:
            paths.update(selectors.unit_paths([obj]))
        return paths[obj.pk]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_path(self, obj: Unit | UnitListRow) -> list[str]:
        return self._path(obj)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_parent_name(self, obj: Unit | UnitListRow) -> str | None:
        path = self._path(obj)
        return path[-2] if len(path) > 1 else None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if not attrs.get("cascade"):
            attrs.pop("cascade", None)  # false says nothing: the fields are the unit's
        elif self.instance is None or attrs.get("is_active") is not False:
            raise serializers.ValidationError(
                {"cascade": [_("“cascade” goes only with “is_active”: false on an existing unit.")]}
            )
        return attrs

    def to_representation(self, instance: Unit | UnitListRow) -> dict[str, Any]:
        """The fields above, read straight from the unit. The generic path (each field's
        ``get_attribute`` and ``to_representation``) cost ~3 ms of a ~7.6 ms page of 100
        units — the heaviest public read (docs/performance.md); this gives the same JSON
        (``tests/practice/test_api.py`` compares the two)."""
        data: dict[str, Any] = {"id": instance.pk}
        for name in UNIT_EDITABLE_FIELDS:
            value = getattr(instance, name)
            if name in ("latitude", "longitude") and value is not None:
                value = value.quantize(_MICRO_DEGREE)
            data[name] = value
        data["parent"] = instance.parent_id
        data["parent_name"] = self.get_parent_name(instance)
        data["is_active"] = instance.is_active
        data["level"] = instance.level
        data["path"] = self.get_path(instance)
        data["descendant_count"] = self.get_descendant_count(instance)
        return data

    def get_descendant_count(self, obj: Unit | UnitListRow) -> int:
        """Active units below this one: the public figure (lists annotate it)."""
        if not obj.descendant_total:
            return 0
        annotated = getattr(obj, "active_below", None)
        if annotated is not None or isinstance(obj, UnitListRow):
            return annotated or 0
        return selectors.count_below(obj)["active"]


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


class UnitImportQuerySerializer(serializers.Serializer):
    dry_run = serializers.BooleanField(default=False)


class UnitImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text=_("Number of units created."))
    units = serializers.ListField(
        child=serializers.IntegerField(),
        help_text=_("Ids of the units created directly under this one."),
    )
    changed = serializers.IntegerField(help_text=_("Number of existing units updated."))
    changed_units = serializers.ListField(
        child=serializers.IntegerField(), help_text=_("Ids of the units updated.")
    )
    unchanged = serializers.IntegerField(
        help_text=_("Number of units the sheet names that needed no change.")
    )


class ImportCreatedSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    path = serializers.CharField(help_text=_("Names from the unit imported into down."))
    kind = serializers.CharField()
    active = serializers.BooleanField()


class ImportChangedSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    id = serializers.IntegerField()
    path = serializers.CharField()
    changes = serializers.DictField(
        child=serializers.ListField(min_length=2, max_length=2),
        help_text=_("Field → [old value, new value]."),
    )


class ImportUnchangedSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    id = serializers.IntegerField()
    path = serializers.CharField()


class UnitImportPlanSerializer(serializers.Serializer):
    created = ImportCreatedSerializer(many=True)
    changed = ImportChangedSerializer(many=True)
    unchanged = ImportUnchangedSerializer(many=True)


class UnitImportPreviewSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    created = serializers.IntegerField(help_text=_("Number of units that would be created."))
    changed = serializers.IntegerField(help_text=_("Number of units that would be updated."))
    unchanged = serializers.IntegerField()
    plan = UnitImportPlanSerializer()


class CategorySerializer(ModelSerializer):
    class Meta:
        model = Category
        fields = ["code", "name", "name_en"]


class RoleAssignmentSerializer(ModelSerializer):
    # Both querysets are narrowed to the caller's reach in ``__init__``: an account they do
    # not manage and an account that does not exist get the same answer (no enumeration).
    user = BoundedPrimaryKeyRelatedField(
        queryset=User.objects.none(), help_text=_("An account you manage.")
    )
    unit = BoundedPrimaryKeyRelatedField(queryset=Unit.objects.none())
    role = serializers.ChoiceField(choices=Role.choices)
    user_name = serializers.CharField(source="user.display_name", read_only=True)
    unit_name = serializers.CharField(source="unit.name", read_only=True)
    granted_by_name = serializers.CharField(
        source="granted_by.display_name", read_only=True, default=None, allow_null=True
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        actor = getattr(request, "user", None)
        if actor is not None:
            user_field = cast(serializers.PrimaryKeyRelatedField, self.fields["user"])
            user_field.queryset = manageable_accounts(actor)
            unit_field = cast(serializers.PrimaryKeyRelatedField, self.fields["unit"])
            unit_field.queryset = selectors.units_visible(actor)


class UserRoleSerializer(ModelSerializer):
    unit_name = serializers.CharField(source="unit.name", read_only=True)

    class Meta:
        model = RoleAssignment
        fields = ["id", "unit", "unit_name", "role"]


class UserSerializer(ModelSerializer):
    phone = serializers.CharField(
        write_only=True, required=False, allow_blank=True, help_text=_("11-digit mobile number")
    )
    phone_masked = serializers.CharField(read_only=True)
    password = serializers.CharField(
        write_only=True,
        required=False,
        style={"input_type": "password"},
        trim_whitespace=False,
        help_text=_(
            "Setting another person's password ends their sessions and deletes their API "
            "token. Your own needs `old_password`."
        ),
    )
    old_password = serializers.CharField(
        write_only=True,
        required=False,
        style={"input_type": "password"},
        trim_whitespace=False,
        help_text=_("Your current password: required to change your own password."),
    )
    manageable = serializers.SerializerMethodField(
        help_text=_("Whether you may edit this account (reset its password, disable it).")
    )
    roles = UserRoleSerializer(source="role_assignments", many=True, read_only=True)
    unit = BoundedPrimaryKeyRelatedField(
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
            "old_password",
            "is_active",
            "manageable",
            "roles",
            "unit",
            "role",
            "date_joined",
            "last_login",
        ]
        read_only_fields = ["id", "date_joined", "last_login"]
        extra_kwargs: dict[str, dict[str, Any]] = {"username": {"validators": []}}

    def get_manageable(self, obj: User) -> bool:
        annotated = getattr(obj, "is_manageable", None)
        if annotated is not None:
            return bool(annotated)
        request = self.context.get("request")
        return may_manage_account(getattr(request, "user", None), obj)

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


class MonthStatsSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM")
    activities = serializers.IntegerField()
    beneficiaries = serializers.IntegerField()
    materials = serializers.IntegerField()
    volunteer_hours = serializers.CharField()


class ChildStatsSerializer(serializers.Serializer):
    unit = serializers.IntegerField()
    name = serializers.CharField()
    activities = serializers.IntegerField()
    beneficiaries = serializers.IntegerField()
    materials = serializers.IntegerField()
    volunteer_hours = serializers.CharField()


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
    participants = serializers.IntegerField(
        help_text="Distinct volunteers with confirmed hours of approved activities."
    )
    requests = RequestCountsSerializer()
    by_category = CategoryStatsSerializer(many=True)
    by_month = MonthStatsSerializer(
        many=True, help_text="Every month of the period (the last 12 without dates)."
    )
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
    expires = serializers.DateTimeField(help_text="After this the token answers 401.")


class AuditChangeSerializer(serializers.Serializer):
    field = serializers.CharField(help_text=_("The key as stored, e.g. name or units."))
    # A serializer is a field, whose ``label`` this shadows; DRF moves declared fields out
    # of the class, so only the type checker sees the clash.
    label = serializers.CharField(  # type: ignore[assignment]
        help_text=_("What the key means, in the caller's language.")
    )
    old = serializers.CharField(
        allow_null=True, help_text=_("The value before, as text; null when nothing was before.")
    )
    new = serializers.CharField(help_text=_("The value after, as text."))
    text = serializers.CharField(help_text=_("The whole line, as the audit pages show it."))


class AuditEntrySerializer(ModelSerializer):
    action_display = serializers.CharField(source="get_action_display", read_only=True)
    actor_name = serializers.CharField(source="actor.display_name", read_only=True, default=None)
    unit_name = serializers.CharField(source="unit.name", read_only=True, default=None)
    object = serializers.CharField(
        source="object_repr", read_only=True, help_text=_("What was acted on, as it was named.")
    )
    changes = serializers.SerializerMethodField()

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "at",
            "action",
            "action_display",
            "actor",
            "actor_name",
            "unit",
            "unit_name",
            "object",
            "changes",
        ]
        read_only_fields = fields

    @extend_schema_field(AuditChangeSerializer(many=True))
    def get_changes(self, obj: AuditEntry) -> list[dict[str, Any]]:
        return [
            {
                "field": line.field,
                "label": line.label,
                "old": line.old if line.is_change else None,
                "new": line.new,
                "text": str(line),
            }
            for line in describe(obj)
        ]
