"""Sync runs and each centre's result within one."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from aletheia.catalog.models.centre import Centre


class SyncRun(models.Model):
    class Kind(models.TextChoices):
        PROFILES = "profiles", _("Doctolib pages")
        AVAILABILITIES = "availabilities", _("availabilities")
        FULL = "full", _("pages and availabilities")

    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        PARTIAL = "partial", _("some centres failed")
        BLOCKED = "blocked", _("stopped: blocked by Doctolib")
        FAILED = "failed", _("failed")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.RUNNING
    )
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    profiles_total = models.IntegerField(_("centres"), default=0)
    profiles_ok = models.IntegerField(_("centres ok"), default=0)
    profiles_failed = models.IntegerField(_("centres failed"), default=0)
    requests = models.IntegerField(_("requests"), default=0)
    changes = models.IntegerField(_("changes"), default=0)
    message = models.TextField(_("message"), blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["-started_at"], name="syncrun_started")]
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.started_at:%Y-%m-%d %H:%M} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class SyncResult(models.Model):
    """One profile's outcome within a run (written by whichever worker synced it)."""

    run = models.ForeignKey(
        SyncRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="results"
    )
    profile = models.ForeignKey(
        Centre, verbose_name=_("centre"), on_delete=models.CASCADE, related_name="+"
    )
    ok = models.BooleanField(_("ok"))
    error = models.TextField(_("error"), blank=True)
    blocked = models.BooleanField(_("blocked"), default=False)
    changes = models.IntegerField(_("changes"), default=0)
    requests = models.IntegerField(_("requests"), default=0)
    seconds = models.FloatField(_("seconds"), default=0)

    class Meta:
        indexes = [models.Index(fields=["profile", "-id"], name="syncresult_profile_recent")]
        ordering = ["run", "profile"]
        verbose_name = _("sync result")
        verbose_name_plural = _("sync results")

    def __str__(self) -> str:
        return f"{self.profile}: {'ok' if self.ok else self.error}"
