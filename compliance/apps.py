from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = _("Compliance")

    def ready(self) -> None:
        """Strict admission: the marketplace asks compliance's licence check before a store goes
        live. And flags are re-evaluated on commit when another app changes what a rule reads."""
        from compliance.services.licences import admission_licence_blockers
        from compliance.signals import connect
        from delivery.services import stores

        if admission_licence_blockers not in stores.ADMISSION_CHECKS:
            stores.ADMISSION_CHECKS.append(admission_licence_blockers)
        connect()
