"""Writes: alerts recorded when a sync changes something, and the digests that send them."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import ngettext

from aletheia.alerts.models import Alert, AlertDigest, AlertSettings, CentreFollow
from aletheia.catalog.models import Centre, Divergence

# entering or leaving one of these is worth an email
ALERT_STATES = {Centre.State.FULL, Centre.State.BLOCKED, Centre.State.ERROR, Centre.State.GONE}


def state_change_record(*, centre: Centre, before: str, after: str, at: datetime) -> None:
    if before != after and (before in ALERT_STATES or after in ALERT_STATES):
        Alert.objects.create(
            centre=centre,
            kind=Alert.Kind.STATE,
            subject="state",
            before=before,
            after=after,
            at=at,
        )


def divergence_changes_record(
    *, opened: Iterable[Divergence], resolved: Iterable[Divergence], at: datetime
) -> None:
    rows = [
        Alert(
            centre_id=d.profile_id,
            kind=Alert.Kind.DIVERGENCE,
            subject=f"{d.kind}:{d.subject}"[:150],
            before=before,
            after=after,
            params={"kind": d.kind, "params": d.params},
            at=at,
        )
        for ds, before, after in ((opened, "", "open"), (resolved, "open", "resolved"))
        for d in ds
    ]
    Alert.objects.bulk_create(rows)


def net_changes(alerts: list[Alert]) -> list[Alert]:
    """One alert per centre and subject: from its first `before` to its last `after`; none when
    the situation is back where it was (entered and left within the period)."""
    by_subject: dict[tuple[int, str], list[Alert]] = {}
    for alert in sorted(alerts, key=lambda a: (a.at, a.pk)):
        by_subject.setdefault((alert.centre_id, alert.subject), []).append(alert)
    kept = []
    for changes in by_subject.values():
        first, last = changes[0], changes[-1]
        if first.before == last.after and len(changes) > 1:
            continue
        last.before = first.before  # reported as one change
        kept.append(last)
    return sorted(kept, key=lambda a: (str(a.centre), a.at))


def base_url() -> str:
    scheme = "http" if settings.DEBUG else "https"
    return f"{scheme}://{settings.ALETHEIA_HOST}"


def digests_send(*, now: datetime) -> int:
    """For each user following centres: one email with what changed since their last digest,
    at most one per ALETHEIA_ALERT_PERIOD; nothing when nothing changed. Returns emails sent."""
    sent = 0
    period = settings.ALETHEIA_ALERT_PERIOD
    users = (
        get_user_model()
        .objects.filter(is_active=True, followed_centres__isnull=False)
        .exclude(email="")
        .distinct()
    )
    for user in users:
        last = AlertDigest.objects.filter(user=user).order_by("-sent_at").first()
        if last is not None and now - last.sent_at < period:
            continue
        follows = CentreFollow.objects.filter(user=user)
        # the first digest tells what changed since the user started following
        since = last.sent_at if last else min(f.since for f in follows)
        centres = follows.values("centre_id")
        candidates = list(
            Alert.objects.filter(centre_id__in=centres, at__gt=since, at__lte=now)
            .exclude(digests__user=user)
            .select_related("centre")
        )
        changes = net_changes(candidates)
        if not changes:
            continue
        with transaction.atomic():
            digest = AlertDigest.objects.create(user=user, sent_at=now)
            digest.alerts.set(candidates)
            _send(user, changes)
        sent += 1
    return sent


def _send(user: Any, changes: list[Alert]) -> None:
    preference = AlertSettings.objects.filter(user=user).first()
    with translation.override(preference.language if preference else settings.LANGUAGE_CODE):
        context = {
            "user": user,
            "changes": changes,
            "base_url": base_url(),
            "alerts_url": base_url() + reverse("dashboard:alerts"),
        }
        subject = ngettext(
            "Aletheia: %(n)d change on your centres",
            "Aletheia: %(n)d changes on your centres",
            len(changes),
        ) % {"n": len(changes)}
        body = render_to_string("alerts/digest.txt", context)
    send_mail(subject, body, None, [user.email])


@transaction.atomic
def follows_set(*, user: Any, centre_ids: Iterable[int], language: str) -> None:
    """The user follows exactly these centres, and reads their digests in `language`."""
    AlertSettings.objects.update_or_create(user=user, defaults={"language": language})
    wanted = set(centre_ids)
    CentreFollow.objects.filter(user=user).exclude(centre_id__in=wanted).delete()
    have = set(CentreFollow.objects.filter(user=user).values_list("centre_id", flat=True))
    CentreFollow.objects.bulk_create(CentreFollow(user=user, centre_id=i) for i in wanted - have)
