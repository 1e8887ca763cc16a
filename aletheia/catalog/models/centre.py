"""The centre: what the group follows, its state (computed at each sync), what it is expected
to show, and its history (state changes, a row per day).

Vocabulary: a **centre** (`Centre`) is what the group follows; its Doctolib page is its
*profile* (the booking page, `slug`). The foreign keys to a centre are named `profile` (their
columns predate the name `Centre`).
"""

from django.db import models
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class Capacity(models.Model):
    """True capacity, written at each availability sync: distinct free slots (a slot offered
    for several motives counts once), those of motives open to new patients, the next one."""

    next_slot = models.DateTimeField(_("next free slot"), null=True, editable=False)
    slots_7 = models.IntegerField(_("free slots, 7 days"), default=0, db_default=0, editable=False)
    slots_28 = models.IntegerField(
        _("free slots, 28 days"), default=0, db_default=0, editable=False
    )
    new_patient_slots_7 = models.IntegerField(
        _("free slots for new patients, 7 days"), default=0, db_default=0, editable=False
    )

    class Meta:
        abstract = True


class Centre(Capacity):
    """A centre the group follows. `status` says how the last catalog sync went (kept for the
    sync code and the admin); `state` is what people read: ok, full, closed, blocked, error,
    gone or never synced, decided at each sync with `state_detail` and `state_since`."""

    class Status(models.TextChoices):
        NEW = "new", _("not synced yet")
        OK = "ok", _("in sync")
        GONE = "gone", _("gone from Doctolib")
        ERROR = "error", _("last sync failed")

    class State(models.TextChoices):
        """What an operations manager needs to know, worst first (the overview's order)."""

        BLOCKED = "blocked", _("blocked")
        ERROR = "error", _("error")
        GONE = "gone", _("gone")
        FULL = "full", _("full")
        CLOSED = "closed", _("closed")
        NEVER = "never", _("never synced")
        OK = "ok", _("ok")

    slug = models.SlugField(_("Doctolib slug"), max_length=200, unique=True)
    label = models.CharField(_("label"), max_length=200, blank=True)
    active = models.BooleanField(_("followed"), default=True)
    doctolib_id = models.BigIntegerField(_("Doctolib id"), null=True, blank=True, editable=False)
    name = models.CharField(_("name on Doctolib"), max_length=300, blank=True, editable=False)
    speciality_name = models.CharField(_("speciality"), max_length=200, blank=True, editable=False)
    status = models.CharField(
        _("sync status"), max_length=10, choices=Status.choices, default=Status.NEW, editable=False
    )
    last_error = models.TextField(_("last error"), blank=True, editable=False)
    # What the operations manager sees, computed at each sync (see services.state): one row
    # per centre is all the overview reads.
    state = models.CharField(
        _("state"),
        max_length=12,
        choices=State.choices,
        default=State.NEVER,
        db_default=State.NEVER.value,
        editable=False,
    )
    state_detail = models.CharField(
        _("state detail"), max_length=300, blank=True, db_default="", editable=False
    )
    state_since = models.DateTimeField(_("in this state since"), null=True, editable=False)
    checked_at = models.DateTimeField(_("last sync attempt"), null=True, editable=False)
    full_after_days = models.PositiveSmallIntegerField(
        _("full when no slot within (days)"), default=14, db_default=14, editable=False
    )
    open_divergences = models.IntegerField(
        _("open divergences"), default=0, db_default=0, editable=False
    )
    city = models.CharField(_("city"), max_length=100, blank=True, db_default="", editable=False)

    class Meta:
        ordering = ["label", "slug"]
        db_table = "catalog_trackedprofile"  # the model was TrackedProfile; the table kept its name
        verbose_name = _("centre")
        verbose_name_plural = _("centres")

    def __str__(self) -> str:
        return self.label or self.name or self.slug

    @property
    def needs_attention(self) -> bool:
        return self.state not in (self.State.OK, self.State.NEVER)

    def state_reason(self) -> str:
        """Why the centre is in its state, in the reader's language."""
        state, detail = self.state, self.state_detail
        if state == self.State.FULL:
            text = gettext("No free slot within %(days)s days.") % {"days": self.full_after_days}
            if self.next_slot:
                when = date_format(localtime(self.next_slot), "SHORT_DATETIME_FORMAT")
                text += " " + gettext("Next one: %(when)s.") % {"when": when}
            return text
        if state == self.State.CLOSED:
            return {
                "no_agenda": gettext("The page lists no agenda."),
                "booking_disabled": gettext("Online booking is disabled on every agenda."),
                "not_opened": gettext("No agenda is open for booking."),
            }.get(detail, "")
        if state == self.State.BLOCKED:
            return gettext("Doctolib refused our requests (403): %(detail)s") % {"detail": detail}
        if state == self.State.GONE:
            return gettext("The page is gone from Doctolib: %(detail)s") % {"detail": detail}
        if state == self.State.ERROR:
            return gettext("The last sync failed: %(detail)s") % {"detail": detail}
        if state == self.State.NEVER:
            return gettext("Not synced yet.")
        return ""


class Expectation(models.Model):
    """Something the group expects this profile to show."""

    class Kind(models.TextChoices):
        PRACTITIONER_LISTED = "practitioner_listed", _("practitioner is listed")
        MOTIVE_OPEN_TO_NEW = "motive_open_to_new", _("motive open to new patients")

    profile = models.ForeignKey(
        Centre, verbose_name=_("centre"), on_delete=models.CASCADE, related_name="expectations"
    )
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    doctolib_id = models.BigIntegerField(_("Doctolib id"))
    label = models.CharField(_("label"), max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "kind", "doctolib_id"], name="expectation_unique"
            )
        ]
        verbose_name = _("expectation")
        verbose_name_plural = _("expectations")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.label or self.doctolib_id}"


class CentreStateChange(models.Model):
    """A centre entered `state` at `at`: the history behind "since when"."""

    centre = models.ForeignKey(
        Centre, verbose_name=_("centre"), on_delete=models.CASCADE, related_name="state_changes"
    )
    state = models.CharField(_("state"), max_length=12, choices=Centre.State.choices)
    previous = models.CharField(
        _("previous state"), max_length=12, choices=Centre.State.choices, blank=True
    )
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    at = models.DateTimeField(_("at"))

    class Meta:
        indexes = [models.Index(fields=["centre", "-at"], name="centre_state_history")]
        ordering = ["-at"]
        verbose_name = _("centre state change")
        verbose_name_plural = _("centre state changes")

    def __str__(self) -> str:
        return f"{self.centre}: {self.get_state_display()} @ {self.at:%Y-%m-%d %H:%M}"


class CentreDay(models.Model):
    """A centre's figures on a day (the last sync of the day): one row per day, even when
    nothing changed, so trends read as a history."""

    centre = models.ForeignKey(
        Centre, verbose_name=_("centre"), on_delete=models.CASCADE, related_name="days"
    )
    day = models.DateField(_("day"))
    state = models.CharField(_("state"), max_length=12, choices=Centre.State.choices)
    next_slot = models.DateTimeField(_("next free slot"), null=True)
    days_to_next_slot = models.FloatField(_("days to the next free slot"), null=True)
    slots_7 = models.IntegerField(_("free slots, 7 days"), default=0)
    slots_28 = models.IntegerField(_("free slots, 28 days"), default=0)
    new_patient_slots_7 = models.IntegerField(_("free slots for new patients, 7 days"), default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["centre", "day"], name="centre_day_unique")]
        ordering = ["centre", "day"]
        verbose_name = _("centre day")
        verbose_name_plural = _("centre days")

    def __str__(self) -> str:
        return f"{self.centre} {self.day}"
