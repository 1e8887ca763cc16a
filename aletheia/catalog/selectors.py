"""Reads for the dashboard, commands and tasks."""

import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from django.core.cache import cache
from django.db.models import Prefetch, QuerySet

from aletheia.catalog.models import (
    Agenda,
    AvailabilitySnapshot,
    Centre,
    CentreDay,
    Divergence,
    Practitioner,
    SyncResult,
    SyncRun,
    VisitMotive,
)
from aletheia.doctolib.factory import circuit_breaker_from_settings, client_from_settings
from aletheia.doctolib.parsing import ParsedBooking

STATE_ORDER = {state: rank for rank, state in enumerate(Centre.State.values)}
OVERVIEW_FIELDS = [
    "slug",
    "label",
    "name",
    "speciality_name",
    "city",
    "active",
    "status",
    "state",
    "state_detail",
    "state_since",
    "checked_at",
    "full_after_days",
    "next_slot",
    "slots_7",
    "slots_28",
    "new_patient_slots_7",
    "open_divergences",
]


def attention_order(centre: Centre) -> tuple[int, str]:
    """Worst state first, then by name."""
    return (STATE_ORDER.get(centre.state, 99), str(centre).casefold())


@dataclass(frozen=True)
class OverviewFilters:
    city: str = ""
    speciality: str = ""
    state: str = ""
    q: str = ""

    def keep(self, centre: Centre) -> bool:
        text = f"{centre.label} {centre.name} {centre.slug} {centre.city}".casefold()
        return (
            (not self.city or centre.city == self.city)
            and (not self.speciality or centre.speciality_name == self.speciality)
            and (not self.state or centre.state == self.state)
            and (not self.q or self.q.casefold() in text)
        )


@dataclass
class Overview:
    centres: list[Centre]
    by_state: list[tuple[str, str, int]]  # (state, label, count) over the shown centres
    slots_7: int
    new_patient_slots_7: int
    median_days_to_next_slot: float | None
    cities: list[str] = field(default_factory=list)
    specialities: list[str] = field(default_factory=list)
    total: int = 0


def overview(filters: OverviewFilters, now: datetime) -> Overview:
    """Followed centres, needing attention first, with the tiles' figures: one query, one row
    per centre (their state and figures are written at each sync)."""
    every = list(Centre.objects.filter(active=True).only(*OVERVIEW_FIELDS))
    shown = sorted(
        (c for c in every if filters.keep(c)),
        key=attention_order,
    )
    counts = dict.fromkeys(Centre.State.values, 0)
    for centre in shown:
        counts[centre.state] = counts.get(centre.state, 0) + 1
    days = [(c.next_slot - now).total_seconds() / 86400 for c in shown if c.next_slot]
    return Overview(
        centres=shown,
        by_state=[(s, str(label), counts[s]) for s, label in Centre.State.choices],
        slots_7=sum(c.slots_7 for c in shown),
        new_patient_slots_7=sum(c.new_patient_slots_7 for c in shown),
        median_days_to_next_slot=round(statistics.median(days), 1) if days else None,
        cities=sorted({c.city for c in every if c.city}),
        specialities=sorted({c.speciality_name for c in every if c.speciality_name}),
        total=len(every),
    )


def centre_agendas(centre: Centre) -> QuerySet[Agenda]:
    """The centre's listed agendas with their true capacity, for the per-practitioner table."""
    return (
        Agenda.objects.filter(profile=centre, present=True)
        .select_related("practitioner", "speciality", "place")
        .order_by("practitioner__name", "doctolib_id")
    )


def export_centres() -> list[tuple[Centre, list[Agenda]]]:
    """Every followed centre (needing attention first) with its listed agendas: two queries."""
    centres = sorted(
        Centre.objects.filter(active=True),
        key=attention_order,
    )
    agendas: dict[int, list[Agenda]] = {}
    for agenda in (
        Agenda.objects.filter(profile__active=True, present=True)
        .select_related("practitioner", "speciality")
        .order_by("practitioner__name", "doctolib_id")
    ):
        agendas.setdefault(agenda.profile_id, []).append(agenda)
    return [(c, agendas.get(c.pk, [])) for c in centres]


def centre_state_history(centre: Centre, limit: int = 20) -> QuerySet:
    return centre.state_changes.all()[:limit]


DATA_VERSION_KEY = "aletheia:catalog:data-version"


def data_version() -> int:
    """Changes whenever a sync (or a staff action) changes what the pages show: the key of
    cached renderings (overview, centre pages, CSV)."""
    return int(cache.get(DATA_VERSION_KEY) or 0)


def profiles_to_sync(slugs: list[str] | None = None) -> QuerySet[Centre]:
    queryset = Centre.objects.filter(active=True)
    return queryset.filter(slug__in=slugs) if slugs else queryset


@dataclass(frozen=True)
class MotiveRow:
    speciality: str
    motive: str
    open_to_new_patients: bool
    agendas: int
    next_slot: datetime | None
    slots_7: int
    slots_14: int
    slots_28: int
    status: str


@dataclass(frozen=True)
class CentreSummary:
    profile: Centre
    rows: list[MotiveRow]
    open_divergences: list[Divergence]

    @property
    def next_slot(self) -> datetime | None:
        slots = [r.next_slot for r in self.rows if r.next_slot]
        return min(slots) if slots else None

    @property
    def slots_7(self) -> int:
        return sum(r.slots_7 for r in self.rows)

    @property
    def slots_28(self) -> int:
        return sum(r.slots_28 for r in self.rows)


STATUS_RANK = {"open": 0, "later": 1, "none": 2, "closed": 3}


def motive_rows(snapshots: list[AvailabilitySnapshot]) -> list[MotiveRow]:
    """Next free slot and slot counts per speciality x motive, over one centre's latest snapshots."""
    grouped: dict[int, list[AvailabilitySnapshot]] = {}
    for snapshot in snapshots:
        grouped.setdefault(snapshot.motive_id, []).append(snapshot)
    rows = []
    for group in grouped.values():
        motive = group[0].motive
        next_slots = [s.next_slot for s in group if s.next_slot]
        rows.append(
            MotiveRow(
                speciality=motive.speciality.name if motive.speciality else "",
                motive=motive.name,
                open_to_new_patients=motive.allow_new_patients,
                agendas=len(group),
                next_slot=min(next_slots) if next_slots else None,
                slots_7=sum(s.slots_7 for s in group),
                slots_14=sum(s.slots_14 for s in group),
                slots_28=sum(s.slots_28 for s in group),
                status=min((s.status for s in group), key=STATUS_RANK.__getitem__),
            )
        )
    return sorted(rows, key=lambda r: (r.speciality, r.motive))


def centre_summaries(profile_id: int | None = None) -> list[CentreSummary]:
    """Every followed centre (or one) with its rows and open divergences: three queries in
    all, however many centres."""
    profiles = Centre.objects.filter(active=True)
    if profile_id is not None:
        profiles = profiles.filter(pk=profile_id)
    open_divergences: dict[int, list[Divergence]] = {}
    for divergence in Divergence.objects.filter(
        resolved_at__isnull=True, profile__in=profiles
    ).order_by("-opened_at"):
        open_divergences.setdefault(divergence.profile_id, []).append(divergence)
    latest: dict[int, list[AvailabilitySnapshot]] = {}
    for snapshot in AvailabilitySnapshot.objects.filter(
        agenda__profile__in=profiles, agenda__present=True, motive__present=True, is_latest=True
    ).select_related("agenda", "motive__speciality"):
        latest.setdefault(snapshot.agenda.profile_id, []).append(snapshot)
    return [
        CentreSummary(
            profile=p,
            rows=motive_rows(latest.get(p.pk, [])),
            open_divergences=open_divergences.get(p.pk, []),
        )
        for p in profiles
    ]


def centre_history(centre: Centre, since: date) -> list[CentreDay]:
    """The centre's days from `since`, and the last one before it (its value holds until the
    first day shown): two index reads of one centre's rows."""
    before = CentreDay.objects.filter(centre=centre, day__lt=since).order_by("-day").first()
    rows = list(CentreDay.objects.filter(centre=centre, day__gte=since).order_by("day"))
    return [before, *rows] if before else rows


def recent_runs(limit: int = 30) -> QuerySet[SyncRun]:
    """The latest runs with their failed results only (a run has a result per centre)."""
    failed = SyncResult.objects.filter(ok=False).select_related("profile")
    return SyncRun.objects.prefetch_related(Prefetch("results", queryset=failed))[:limit]


def last_finished_run() -> SyncRun | None:
    """The latest run that finished (walks the `started_at` index from the newest)."""
    return SyncRun.objects.filter(finished_at__isnull=False).order_by("-started_at").first()


def booking_preview(slug: str) -> ParsedBooking:
    """What Doctolib shows at `slug` now (one request; raises DoctolibError)."""
    client = client_from_settings()
    try:
        return client.booking(slug)
    finally:
        client.close()


def centre_choices(centre: Centre) -> tuple[list[Practitioner], list[VisitMotive]]:
    """The practitioners and motives its page lists, to choose expectations by name."""
    practitioners = list(Practitioner.objects.filter(profile=centre, present=True).order_by("name"))
    motives = list(
        VisitMotive.objects.filter(profile=centre, present=True).select_related("speciality")
    )
    return practitioners, motives


def run_of(run_id: str) -> SyncRun | None:
    """The run a page follows (`?run=`), if it exists."""
    return SyncRun.objects.filter(pk=int(run_id)).first() if run_id.isdigit() else None


def last_result(centre: Centre) -> SyncResult | None:
    return SyncResult.objects.filter(profile=centre).select_related("run").order_by("-pk").first()


def circuit_state() -> tuple[datetime | None, int]:
    """Whether Doctolib is being left alone (the breaker is open) and until when."""
    open_until, blocks = circuit_breaker_from_settings().state()
    return (datetime.fromtimestamp(open_until, tz=UTC) if open_until else None), blocks
