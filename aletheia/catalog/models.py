"""What the group follows on Doctolib, what Doctolib shows, and where the two differ.

Vocabulary: a **centre** (`Centre`) is what the group follows; its Doctolib page is its
*profile* (the booking page, `slug`). The foreign keys to a centre are named `profile` (their
columns predate the name `Centre`).

Doctolib ids are the natural keys. Places, practitioners, motives and agendas are kept per
centre (what its page shows); rows Doctolib stops showing are kept with
`present=False`, so history stays readable.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class Centre(models.Model):
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
    next_slot = models.DateTimeField(_("next free slot"), null=True, editable=False)
    slots_7 = models.IntegerField(_("free slots, 7 days"), default=0, db_default=0, editable=False)
    slots_28 = models.IntegerField(
        _("free slots, 28 days"), default=0, db_default=0, editable=False
    )
    new_patient_slots_7 = models.IntegerField(
        _("free slots for new patients, 7 days"), default=0, db_default=0, editable=False
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


class Speciality(models.Model):
    doctolib_id = models.BigIntegerField(_("Doctolib id"), unique=True)
    name = models.CharField(_("name"), max_length=200)
    full_after_days = models.PositiveSmallIntegerField(
        _("full when no slot within (days)"),
        null=True,
        blank=True,
        help_text=_("Empty: the default (ALETHEIA_FULL_AFTER_DAYS, 14 days)."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("speciality")
        verbose_name_plural = _("specialities")

    def __str__(self) -> str:
        return self.name

    @property
    def full_threshold(self) -> int:
        return self.full_after_days or settings.ALETHEIA_FULL_AFTER_DAYS


class ProfileScoped(models.Model):
    profile = models.ForeignKey(
        Centre, verbose_name=_("centre"), on_delete=models.CASCADE, related_name="+"
    )
    doctolib_id = models.BigIntegerField(_("Doctolib id"))
    present = models.BooleanField(_("shown on Doctolib"), default=True)

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(fields=["profile", "doctolib_id"], name="%(class)s_unique")
        ]


class Place(ProfileScoped):
    name = models.CharField(_("name"), max_length=300)
    address = models.CharField(_("address"), max_length=300, blank=True)
    zipcode = models.CharField(_("postcode"), max_length=20, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    latitude = models.FloatField(_("latitude"), null=True, blank=True)
    longitude = models.FloatField(_("longitude"), null=True, blank=True)

    class Meta(ProfileScoped.Meta):
        verbose_name = _("place")
        verbose_name_plural = _("places")

    def __str__(self) -> str:
        return self.name


class Practitioner(ProfileScoped):
    name = models.CharField(_("name"), max_length=300)
    speciality_name = models.CharField(_("speciality"), max_length=200, blank=True)

    class Meta(ProfileScoped.Meta):
        verbose_name = _("practitioner")
        verbose_name_plural = _("practitioners")

    def __str__(self) -> str:
        return self.name


class VisitMotive(ProfileScoped):
    name = models.CharField(_("name"), max_length=300)
    speciality = models.ForeignKey(
        Speciality, verbose_name=_("speciality"), null=True, blank=True, on_delete=models.SET_NULL
    )
    ref_visit_motive_id = models.BigIntegerField(_("reference motive id"), null=True, blank=True)
    allow_new_patients = models.BooleanField(_("open to new patients"), default=True)
    telehealth = models.BooleanField(_("teleconsultation"), default=False)
    position = models.IntegerField(_("position"), default=0)

    class Meta(ProfileScoped.Meta):
        ordering = ["position", "name"]
        verbose_name = _("visit motive")
        verbose_name_plural = _("visit motives")

    def __str__(self) -> str:
        return self.name


class Agenda(ProfileScoped):
    practitioner = models.ForeignKey(
        Practitioner,
        verbose_name=_("practitioner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
    )
    speciality = models.ForeignKey(
        Speciality, verbose_name=_("speciality"), null=True, blank=True, on_delete=models.SET_NULL
    )
    place = models.ForeignKey(
        Place, verbose_name=_("place"), null=True, blank=True, on_delete=models.SET_NULL
    )
    booking_disabled = models.BooleanField(_("booking disabled"), default=False)
    booking_temporary_disabled = models.BooleanField(
        _("booking temporarily disabled"), default=False
    )
    motive_ids = models.JSONField(
        _("motive ids"), default=list, help_text=_("Doctolib ids of the motives it offers")
    )
    # True capacity, from the last availability sync: distinct slots (a slot offered for two
    # motives counts once), and those of motives open to new patients.
    availability = models.CharField(
        _("availability"), max_length=10, blank=True, db_default="", editable=False
    )
    next_slot = models.DateTimeField(_("next free slot"), null=True, editable=False)
    slots_7 = models.IntegerField(_("free slots, 7 days"), default=0, db_default=0, editable=False)
    slots_28 = models.IntegerField(
        _("free slots, 28 days"), default=0, db_default=0, editable=False
    )
    new_patient_slots_7 = models.IntegerField(
        _("free slots for new patients, 7 days"), default=0, db_default=0, editable=False
    )

    class Meta(ProfileScoped.Meta):
        verbose_name = _("agenda")
        verbose_name_plural = _("agendas")

    def __str__(self) -> str:
        return f"{self.practitioner or self.doctolib_id}"


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


class AvailabilitySnapshot(models.Model):
    """What one agenda offered for one motive, stored when it differs from the last one."""

    class Status(models.TextChoices):
        OPEN = "open", _("slots available")
        LATER = "later", _("first slot beyond the horizon")
        NONE = "none", _("no availability")
        CLOSED = "closed", _("agenda not opened")

    agenda = models.ForeignKey(
        Agenda, verbose_name=_("agenda"), on_delete=models.CASCADE, related_name="snapshots"
    )
    motive = models.ForeignKey(
        VisitMotive, verbose_name=_("motive"), on_delete=models.CASCADE, related_name="snapshots"
    )
    sync_run = models.ForeignKey(
        SyncRun, verbose_name=_("sync run"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    taken_at = models.DateTimeField(_("taken at"), db_index=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    next_slot = models.DateTimeField(_("next free slot"), null=True, blank=True)
    slots_7 = models.IntegerField(_("slots, 7 days"), default=0)
    slots_14 = models.IntegerField(_("slots, 14 days"), default=0)
    slots_28 = models.IntegerField(_("slots, 28 days"), default=0)
    is_latest = models.BooleanField(_("latest"), default=True)

    class Meta:
        indexes = [
            models.Index(fields=["agenda", "motive", "-taken_at"], name="snapshot_history"),
            models.Index(fields=["agenda"], condition=Q(is_latest=True), name="snapshot_latest"),
        ]
        ordering = ["-taken_at"]
        verbose_name = _("availability snapshot")
        verbose_name_plural = _("availability snapshots")

    def __str__(self) -> str:
        return f"{self.agenda} / {self.motive} @ {self.taken_at:%Y-%m-%d %H:%M}: {self.status}"

    def same_figures(self, other: "AvailabilitySnapshot") -> bool:
        fields = ("status", "next_slot", "slots_7", "slots_14", "slots_28")
        return all(getattr(self, f) == getattr(other, f) for f in fields)


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
