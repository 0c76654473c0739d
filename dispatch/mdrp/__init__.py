"""The MDRP benchmark (Reyes et al. 2018, "The Meal Delivery Routing Problem", Grubhub's public
instances in `../shared/benchmarks/mdrp/`): read an instance, replay it in simulated time
through `dispatch.engine.plan` (or the naive baseline), write the solution as SOLUTION_FORMAT.md
says, and check it with our own evaluator written from the rules."""
