"""Models shared by every app: the import jobs (see :mod:`portal.imports`), the outbox of
text messages and emails (:mod:`portal.outbox`), the in-portal inbox
(:mod:`portal.notify`) and one-time codes (:mod:`portal.otp`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.fields import EncryptedCharField

__all__ = ["ExportJob", "ImportJob", "InboxMessage", "OneTimeCode", "OutboxMessage"]


class ImportJob(models.Model):
    """An uploaded sheet on its way into the database: previewed, confirmed, applied.

    The rows read from the file (``payload``) and the plan the person saw (``plan`` and
    its ``digest``) are kept here, so nothing accepted depends on the task queue: a job
    whose task never ran can still be run. ``kind`` is the dotted path of the function
    that applies it (e.g. ``practice.services.unit_import_job``); ``target_id`` is what
    that function imports into (for units, the unit's id).
    """

    class Status(models.TextChoices):
        PREVIEW = "preview", _("Awaiting confirmation")
        QUEUED = "queued", _("Waiting to run")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=100)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    target_id = models.PositiveBigIntegerField(_("target"), null=True, blank=True)
    filename = models.CharField(_("file name"), max_length=255, blank=True)
    language = models.CharField(_("language"), max_length=16, blank=True)
    payload = models.JSONField(_("rows"), default=dict, blank=True)
    plan = models.JSONField(_("plan"), default=dict, blank=True)
    digest = models.CharField(_("plan digest"), max_length=64, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PREVIEW
    )
    result = models.JSONField(_("result"), default=dict, blank=True)
    error = models.JSONField(_("error"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    queued_at = models.DateTimeField(_("queued"), null=True, blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "created_at"], name="importjob_status_idx")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)


class ExportJob(models.Model):
    """A spreadsheet being written in the background (big exports): who asked, what
    (``kind`` names the writer, ``params`` its filters), how far it got (``done`` of
    ``total`` rows, for the progress bar) and the finished file, downloadable by the same
    person only."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting to run")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=100)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    language = models.CharField(_("language"), max_length=16, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    done = models.PositiveIntegerField(_("rows written"), default=0)
    total = models.PositiveIntegerField(_("rows in all"), default=0)
    file = models.FileField(_("file"), upload_to="exports/%Y/%m/", max_length=200, blank=True)
    filename = models.CharField(_("file name"), max_length=255, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("export job")
        verbose_name_plural = _("export jobs")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "created_at"], name="exportjob_status_idx")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return min(99, self.done * 100 // self.total) if self.total else 0


class OutboxMessage(models.Model):
    """One message on its way out (:mod:`portal.outbox`): a text message or an email,
    written in the sender's transaction, sent by a Celery task, resent by ``manage.py
    send_queued_messages`` when the queue lost it. The address and the text are stored
    encrypted (a text may hold a code)."""

    class Channel(models.TextChoices):
        SMS = "sms", _("Text message")
        EMAIL = "email", _("Email")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    channel = models.CharField(
        _("channel"), max_length=8, choices=Channel.choices, default=Channel.SMS
    )
    address = EncryptedCharField(_("to"))
    address_masked = models.CharField(_("to"), max_length=100, editable=False)
    subject = EncryptedCharField(_("subject"), blank=True, default="")
    text = EncryptedCharField(_("text"))
    purpose = models.CharField(_("purpose"), max_length=32)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True, default="")
    # Not tried before this time: a send in progress (a lease) or the next retry.
    retry_after = models.DateTimeField(_("next attempt"), null=True, blank=True)
    provider_id = models.CharField(_("provider message id"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("outgoing message")
        verbose_name_plural = _("outgoing messages")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "created_at"], name="outbox_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(channel__in=["sms", "email"]), name="outbox_channel_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.purpose} → {self.address_masked} ({self.status})"


class InboxMessage(models.Model):
    """A notice in a person's in-portal inbox (:mod:`portal.notify`): delivered when its
    transaction commits, read on the inbox page."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="inbox",
    )
    subject = models.CharField(_("subject"), max_length=200)
    text = models.TextField(_("text"), blank=True)
    link = models.CharField(_("link"), max_length=300, blank=True)
    purpose = models.CharField(_("purpose"), max_length=32)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        verbose_name = _("inbox message")
        verbose_name_plural = _("inbox messages")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="inbox_recipient_idx"),
            models.Index(
                fields=["recipient"],
                condition=models.Q(read_at__isnull=True),
                name="inbox_unread_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.subject


class OneTimeCode(models.Model):
    """A one-time code sent by SMS (:mod:`portal.otp`): only its keyed hash is kept."""

    purpose = models.CharField(_("purpose"), max_length=32)
    phone_hash = models.CharField(max_length=64, editable=False)
    code_hash = models.CharField(max_length=64, editable=False)
    expires_at = models.DateTimeField(_("expires"))
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    used_at = models.DateTimeField(_("used"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("one-time code")
        verbose_name_plural = _("one-time codes")
        indexes = [
            models.Index(fields=["phone_hash", "created_at"], name="onetimecode_phone_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} #{self.pk}"
