"""NodeClinicService: the web UI's `ClinicService` on the node's documents and projections."""

from __future__ import annotations

from meshd.clinic_ui.backups import Backups
from meshd.clinic_ui.changes import Subscription
from meshd.clinic_ui.charts import Charts
from meshd.clinic_ui.flow import Flow
from meshd.clinic_ui.other_clinics import OtherClinics
from meshd.clinic_ui.people import People


class NodeClinicService(People, Charts, Flow, Backups, OtherClinics):
    """Everything the UI asks of this device, in clinic words (see `ui.service`)."""

    def subscribe(self) -> Subscription:
        """Every document change from now on, local or synced; closing the iterator ends it."""
        return Subscription(self.clinic)
