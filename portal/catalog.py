"""Messages of Django and DRF that their own Simplified-Chinese catalogs lack.

Listed here so that ``make messages`` keeps them in ``locale/zh_Hans`` (our catalog comes
first in ``LOCALE_PATHS``, so its translation wins): without them a Chinese API response or
page would carry an English sentence. Nothing calls this module; check again after
upgrading Django or DRF (``tests/test_error_contract.py`` looks for English in Chinese
error messages).
"""

from django.utils.translation import gettext_noop, ngettext_lazy

__all__ = ["UPSTREAM_MESSAGES"]

UPSTREAM_MESSAGES = (
    # django.contrib.auth.password_validation.MinimumLengthValidator (Django 5.2 changed
    # the placeholder from %(min_length)d to %d; the zh_Hans catalog has only the old one).
    ngettext_lazy(
        "This password is too short. It must contain at least %d character.",
        "This password is too short. It must contain at least %d characters.",
        "min_length",
    ),
    # django.db.models.ForeignKey.validate
    gettext_noop("%(model)s instance with %(field)s %(value)r is not a valid choice."),
    # rest_framework.fields
    gettext_noop("A valid biginteger is required."),
    gettext_noop("Integer value too large to convert to float"),
    gettext_noop("The number of days must be between {min_days} and {max_days}."),
)
