# Pages only: the frontend reads through selectors and writes through services of other apps.
