# Inspections, violations and grades arrive with the compliance issue.
