"""What Doctolib shows on a centre's page, keyed by Doctolib ids: specialities (shared),
places, practitioners, motives and agendas (per centre; rows Doctolib stops showing are kept
with `present=False`, so history stays readable), and availability snapshots."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from aletheia.catalog.models.centre import Capacity, Centre
from aletheia.catalog.models.runs import SyncRun


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


class Agenda(ProfileScoped, Capacity):
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
    # the best availability status over its motives at the last sync ("" if never asked)
    availability = models.CharField(
        _("availability"), max_length=10, blank=True, db_default="", editable=False
    )

    class Meta(ProfileScoped.Meta):
        verbose_name = _("agenda")
        verbose_name_plural = _("agendas")

    def __str__(self) -> str:
        return f"{self.practitioner or self.doctolib_id}"


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
