from django.contrib import admin

from aletheia.alerts.models import Alert, AlertDigest, AlertSettings, CentreFollow


@admin.register(CentreFollow)
class CentreFollowAdmin(admin.ModelAdmin):
    list_display = ["user", "centre"]
    list_select_related = ["user", "centre"]
    autocomplete_fields = ["centre"]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["at", "centre", "kind", "subject", "before", "after"]
    list_filter = ["kind"]
    list_select_related = ["centre"]
    show_full_result_count = False


@admin.register(AlertDigest)
class AlertDigestAdmin(admin.ModelAdmin):
    list_display = ["sent_at", "user"]
    list_select_related = ["user"]


@admin.register(AlertSettings)
class AlertSettingsAdmin(admin.ModelAdmin):
    list_display = ["user", "language"]
