"""Alerts: what changed for a centre (its state, a divergence), who follows which centre, and
the digests sent, so a situation is reported once and a user gets one email per period."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from aletheia.catalog.models import Centre, Divergence, divergence_message


class CentreFollow(models.Model):
    """`user` wants alerts about `centre`."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="followed_centres",
    )
    centre = models.ForeignKey(
        Centre, verbose_name=_("centre"), on_delete=models.CASCADE, related_name="followers"
    )
    since = models.DateTimeField(_("followed since"), auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "centre"], name="centre_follow_unique")
        ]
        verbose_name = _("followed centre")
        verbose_name_plural = _("followed centres")

    def __str__(self) -> str:
        return f"{self.user} → {self.centre}"


class AlertSettings(models.Model):
    """A user's alert preferences: the language of their digests (the one they used when they
    last chose their centres)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="alert_settings",
    )
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)

    class Meta:
        verbose_name = _("alert settings")
        verbose_name_plural = _("alert settings")

    def __str__(self) -> str:
        return f"{self.user}: {self.language}"


class Alert(models.Model):
    """A change worth telling: a state entered or left, a divergence opened or resolved."""

    class Kind(models.TextChoices):
        STATE = "state", _("state changed")
        DIVERGENCE = "divergence", _("divergence")

    centre = models.ForeignKey(
        Centre, verbose_name=_("centre"), on_delete=models.CASCADE, related_name="alerts"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    subject = models.CharField(
        _("subject"), max_length=150, help_text=_("what changed, e.g. state or a divergence")
    )
    before = models.CharField(_("before"), max_length=20, blank=True)
    after = models.CharField(_("after"), max_length=20)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    at = models.DateTimeField(_("at"), db_index=True)

    class Meta:
        indexes = [models.Index(fields=["centre", "-at"], name="alert_centre_recent")]
        ordering = ["-at"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")

    def __str__(self) -> str:
        return f"{self.centre}: {self.subject} {self.before} → {self.after}"

    def message(self) -> str:
        """The change, in the reader's language."""
        if self.kind == self.Kind.STATE:
            labels = dict(Centre.State.choices)
            return gettext("State: %(before)s → %(after)s") % {
                "before": labels.get(self.before, self.before),
                "after": labels.get(self.after, self.after),
            }
        text = divergence_message(self.params.get("kind", ""), self.params.get("params", {}))
        label = dict(Divergence.Kind.choices).get(self.params.get("kind", ""), "")
        if self.after == "resolved":
            return gettext("Resolved: %(label)s. %(text)s") % {"label": label, "text": text}
        return gettext("New divergence: %(label)s. %(text)s") % {"label": label, "text": text}


class AlertDigest(models.Model):
    """One email to one user, with the alerts it reported."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="alert_digests",
    )
    sent_at = models.DateTimeField(_("sent at"))
    alerts = models.ManyToManyField(Alert, verbose_name=_("alerts"), related_name="digests")

    class Meta:
        indexes = [models.Index(fields=["user", "-sent_at"], name="digest_user_recent")]
        ordering = ["-sent_at"]
        verbose_name = _("alert digest")
        verbose_name_plural = _("alert digests")

    def __str__(self) -> str:
        return f"{self.user} @ {self.sent_at:%Y-%m-%d %H:%M}"
