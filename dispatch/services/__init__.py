"""Writes of the dispatch app: couriers, locations, offers, the courier's task flow, the
dispatcher's rounds. Views, consumers and the dispatcher process call these."""
