from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = _("Compliance")

    def ready(self) -> None:
        """Strict admission: the marketplace asks compliance's licence check before a store goes
        live. And flags are re-evaluated on commit when another app changes what a rule reads."""
        from compliance.selectors import courier_go_online_refusal, couriers_with_valid_certificate_q
        from compliance.services.licences import admission_licence_blockers
        from compliance.signals import connect
        from delivery.services import stores
        from dispatch import selectors as dispatch_selectors
        from dispatch.services import couriers as dispatch_couriers

        if admission_licence_blockers not in stores.ADMISSION_CHECKS:
            stores.ADMISSION_CHECKS.append(admission_licence_blockers)
        # The health-certificate gate: no certificate, no going online and no offer.
        if couriers_with_valid_certificate_q not in dispatch_selectors.AVAILABILITY_FILTERS:
            dispatch_selectors.AVAILABILITY_FILTERS.append(couriers_with_valid_certificate_q)
        if courier_go_online_refusal not in dispatch_couriers.GO_ONLINE_CHECKS:
            dispatch_couriers.GO_ONLINE_CHECKS.append(courier_go_online_refusal)
        connect()
