"""What the group follows on Doctolib, what Doctolib shows, and where the two differ.

- `centre`: centres, their expectations, state history and days;
- `doctolib`: what a centre's page shows (places, practitioners, motives, agendas) and the
  availability snapshots;
- `divergences`: where Doctolib differs from the expectations;
- `runs`: sync runs and their results.
"""

from aletheia.catalog.models.centre import Centre, CentreDay, CentreStateChange, Expectation
from aletheia.catalog.models.divergences import Divergence, divergence_message
from aletheia.catalog.models.doctolib import (
    Agenda,
    AvailabilitySnapshot,
    Place,
    Practitioner,
    ProfileScoped,
    Speciality,
    VisitMotive,
)
from aletheia.catalog.models.runs import SyncResult, SyncRun

__all__ = [
    "Agenda",
    "AvailabilitySnapshot",
    "Centre",
    "CentreDay",
    "CentreStateChange",
    "Divergence",
    "Expectation",
    "Place",
    "Practitioner",
    "ProfileScoped",
    "Speciality",
    "SyncResult",
    "SyncRun",
    "VisitMotive",
    "divergence_message",
]
