# Cases and their audit trail arrive with the compliance issue.
