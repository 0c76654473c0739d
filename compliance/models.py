# Entities, licences, certificates, inspections, flags, cases and credit records arrive with the
# compliance issue; the app exists now so that the layout and migrations start complete.
