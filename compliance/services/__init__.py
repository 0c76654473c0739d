"""Writes of the compliance app: entities, licences, health certificates, the registry import.

Views, admin actions, tasks and management commands call these; each runs in a transaction and
schedules flag re-evaluation (compliance.tasks) on commit when it changes what a rule reads."""
