from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from aletheia.catalog.models import (
    Agenda,
    AvailabilitySnapshot,
    Centre,
    Divergence,
    Expectation,
    Place,
    Practitioner,
    Speciality,
    SyncResult,
    SyncRun,
    VisitMotive,
)

admin.site.site_header = _("Aletheia administration")
admin.site.site_title = "Aletheia"
admin.site.index_title = _("Centres, Doctolib data and sync runs")


class ExpectationInline(admin.TabularInline):
    model = Expectation
    extra = 1


@admin.register(Centre)
class CentreAdmin(admin.ModelAdmin):
    list_display = ["__str__", "slug", "active", "state", "state_since", "city"]
    list_filter = ["active", "state", "status"]
    search_fields = ["slug", "label", "name", "city"]
    readonly_fields = [
        "doctolib_id",
        "name",
        "speciality_name",
        "status",
        "last_error",
        "state",
        "state_detail",
        "state_since",
        "checked_at",
    ]
    inlines = [ExpectationInline]


@admin.register(Speciality)
class SpecialityAdmin(admin.ModelAdmin):
    list_display = ["name", "doctolib_id", "full_after_days"]
    list_editable = ["full_after_days"]
    search_fields = ["name"]


class ScopedAdmin(admin.ModelAdmin):
    list_filter = ["present", "profile"]
    search_fields = ["doctolib_id"]
    list_select_related = ["profile"]


@admin.register(Place)
class PlaceAdmin(ScopedAdmin):
    list_display = ["name", "city", "profile", "doctolib_id", "present"]
    search_fields = ["name", "city", "doctolib_id"]


@admin.register(Practitioner)
class PractitionerAdmin(ScopedAdmin):
    list_display = ["name", "speciality_name", "profile", "doctolib_id", "present"]
    search_fields = ["name", "doctolib_id"]


@admin.register(VisitMotive)
class VisitMotiveAdmin(ScopedAdmin):
    list_display = ["name", "speciality", "allow_new_patients", "profile", "doctolib_id", "present"]
    search_fields = ["name", "doctolib_id"]


@admin.register(Agenda)
class AgendaAdmin(ScopedAdmin):
    list_display = [
        "doctolib_id",
        "practitioner",
        "place",
        "booking_disabled",
        "profile",
        "present",
    ]
    list_select_related = ["profile", "practitioner", "place"]


@admin.register(AvailabilitySnapshot)
class AvailabilitySnapshotAdmin(admin.ModelAdmin):
    list_display = [
        "taken_at",
        "agenda",
        "motive",
        "status",
        "next_slot",
        "slots_7",
        "slots_14",
        "slots_28",
        "is_latest",
    ]
    list_filter = ["status", "is_latest"]
    # no date_hierarchy: it scans the whole (large) table on every page
    show_full_result_count = False
    list_select_related = ["agenda__practitioner", "motive"]


@admin.register(Divergence)
class DivergenceAdmin(admin.ModelAdmin):
    list_display = ["profile", "kind", "detail", "opened_at", "resolved_at"]
    list_filter = ["kind", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["detail", "profile__slug"]


class SyncResultInline(admin.TabularInline):
    model = SyncResult
    extra = 0
    can_delete = False
    readonly_fields = ["profile", "ok", "error", "blocked", "changes", "requests", "seconds"]


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = [
        "started_at",
        "kind",
        "status",
        "profiles_ok",
        "profiles_failed",
        "requests",
        "changes",
    ]
    list_filter = ["kind", "status"]
    inlines = [SyncResultInline]
