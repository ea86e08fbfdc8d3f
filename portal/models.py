"""Models shared by every app: the import jobs (see :mod:`portal.imports`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["ImportJob"]


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
