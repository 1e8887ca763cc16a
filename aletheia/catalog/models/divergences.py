"""Where Doctolib differs from what the group expects: opened, then resolved."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from aletheia.catalog.models.centre import Centre


class Divergence(models.Model):
    """Where Doctolib differs from what the group expects: opened, then resolved."""

    class Kind(models.TextChoices):
        PROFILE_GONE = "profile_gone", _("page gone from Doctolib")
        PRACTITIONER_MISSING = "practitioner_missing", _("practitioner missing")
        BOOKING_DISABLED = "booking_disabled", _("agenda booking disabled")
        MOTIVE_CLOSED_TO_NEW = "motive_closed_to_new", _("motive closed to new patients")
        AGENDA_CLOSED = "agenda_closed", _("agenda closed")

    profile = models.ForeignKey(
        Centre, verbose_name=_("centre"), on_delete=models.CASCADE, related_name="divergences"
    )
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    subject = models.CharField(
        _("subject"), max_length=100, help_text=_("what it is about, e.g. agenda:449621")
    )
    detail = models.CharField(
        _("detail (English)"), max_length=500, help_text=_("Kept for search and old rows.")
    )
    params = models.JSONField(
        _("parameters"), default=dict, db_default={}, blank=True, editable=False
    )
    opened_at = models.DateTimeField(_("opened at"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "kind", "subject"],
                condition=Q(resolved_at__isnull=True),
                name="one_open_divergence_per_subject",
            )
        ]
        ordering = ["-opened_at"]
        verbose_name = _("divergence")
        verbose_name_plural = _("divergences")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.detail}"

    def message(self) -> str:
        """What is wrong, in the reader's language (from the kind and its parameters)."""
        return divergence_message(self.kind, self.params) or self.detail


def divergence_message(kind: str, params: dict) -> str:
    """The sentence for a divergence `kind` with its `params`, in the active language."""
    kinds = Divergence.Kind
    try:
        if kind == kinds.PRACTITIONER_MISSING:
            return gettext("%(name)s is not listed on the Doctolib page.") % params
        if kind == kinds.MOTIVE_CLOSED_TO_NEW:
            if params.get("missing"):
                return gettext("%(motive)s: no longer offered.") % params
            return gettext("%(motive)s: closed to new patients.") % params
        if kind == kinds.BOOKING_DISABLED:
            return gettext("%(who)s: online booking disabled.") % params
        if kind == kinds.AGENDA_CLOSED:
            return gettext("%(who)s: agenda not opened for booking.") % params
        if kind == kinds.PROFILE_GONE:
            return gettext("Doctolib answers %(status)s for this page.") % params
    except (KeyError, TypeError):
        return ""
    return ""
