"""factory_boy factories shared by the whole suite."""

import factory
from factory.django import DjangoModelFactory

from practice.choices import Role, UnitKind
from practice.models import RoleAssignment, Unit, User

__all__ = ["PASSWORD", "RoleFactory", "UnitFactory", "UserFactory"]

PASSWORD = "correct-horse-battery"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    name = factory.Sequence(lambda n: f"测试用户{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class UnitFactory(DjangoModelFactory):
    """Saves through django-mptt (one insert at a time): fine for tests, not for imports."""

    class Meta:
        model = Unit

    name = factory.Sequence(lambda n: f"单位{n:04d}")
    kind = UnitKind.CENTRE
    parent = None


class RoleFactory(DjangoModelFactory):
    class Meta:
        model = RoleAssignment

    user = factory.SubFactory(UserFactory)
    unit = factory.SubFactory(UnitFactory)
    role = Role.MANAGER
