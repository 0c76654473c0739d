"""The MDRP replay, its files and our evaluator: each of the eight rules caught on a hand-made
solution, a generated instance replayed end to end, and one public instance when ../shared is
there."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from dispatch.engine.types import Point
from dispatch.mdrp.evaluate import RULES, check, metrics
from dispatch.mdrp.generate import PUBLIC_PARAMS, random_instance
from dispatch.mdrp.instance import Courier, Instance, Order, read_instance, write_instance
from dispatch.mdrp.simulate import replay
from dispatch.mdrp.solution import OrderRow, Solution, Stop, read_solution

# Travel: 320 m/min, so 640 m is 2 minutes and 3,200 m is 10.
TINY = Instance(
    "tiny",
    PUBLIC_PARAMS,
    {"r1": Point(0, 0), "r2": Point(3200, 0)},
    {
        "o1": Order("o1", Point(640, 0), 0, "r1", 10),
        "o2": Order("o2", Point(0, 640), 2, "r1", 8),
        "o3": Order("o3", Point(3200, 640), 5, "r2", 20),
    },
    {"c1": Courier("c1", Point(0, 0), 0, 60), "c2": Courier("c2", Point(3200, 0), 0, 60)},
)


def valid() -> Solution:
    """c1 carries o1 and o2 together (ready 10, picked up at 10); c2 carries o3."""
    return Solution(
        orders=[
            OrderRow("o1", "c1", "b1", 5, 10, 16),
            OrderRow("o2", "c1", "b1", 5, 10, 23),
            OrderRow("o3", "c2", "b2", 6, 20, 26),
        ],
        stops=[
            Stop("c1", 1, "pickup", "r1", 5, 12, ("o1", "o2")),
            Stop("c1", 2, "dropoff", "o1", 14, 18, ("o1",)),
            Stop("c1", 3, "dropoff", "o2", 21, 25, ("o2",)),  # 640·√2 m: 3 minutes
            Stop("c2", 1, "pickup", "r2", 6, 22, ("o3",)),
            Stop("c2", 2, "dropoff", "o3", 24, 28, ("o3",)),
        ],
    )


def with_order(sol: Solution, oid: str, **changes: object) -> Solution:
    rows = [dataclasses.replace(r, **changes) if r.order == oid else r for r in sol.orders]  # type: ignore[arg-type]
    return Solution(rows, sol.stops)


def with_stop(sol: Solution, courier: str, seq: int, **changes: object) -> Solution:
    stops = [
        dataclasses.replace(s, **changes) if (s.courier, s.seq) == (courier, seq) else s  # type: ignore[arg-type]
        for s in sol.stops
    ]
    return Solution(sol.orders, stops)


def rules(sol: Solution, instance: Instance = TINY) -> set[str]:
    return {v.rule for v in check(instance, sol)}


def test_the_hand_made_solution_is_valid_and_its_metrics_hold() -> None:
    assert check(TINY, valid()) == []
    m = metrics(TINY, valid())
    assert m["delivered"] == 3 and m["pct_undelivered"] == 0
    assert m["ctd_mean"] == pytest.approx((16 + 21 + 21) / 3)
    assert m["rtp_mean"] == pytest.approx((0 + 2 + 0) / 3)
    assert m["orders_per_bundle"] == 1.5
    # c1 earns $10 × 2 orders, above its $15 hour; c2 gets the guarantee.
    assert m["total_pay"] == 35 and m["cost_per_order"] == pytest.approx(35 / 3)
    assert m["share_on_guarantee"] == 0.5
    # c1: 0 + 2 + 3 minutes of riding and 12 of service, over 60 minutes.
    assert m["utilisation_max"] == pytest.approx(17 / 60)


def test_rule_assigned_once() -> None:
    sol = valid()
    twice = Solution([*sol.orders, OrderRow("o1", "c2", "b3", 6, 20, 26)], sol.stops)
    assert "assigned_once" in rules(twice)
    picked_twice = with_stop(sol, "c2", 1, orders=("o3", "o1"))
    assert "assigned_once" in rules(picked_twice)


def test_rule_assigned_after_placement() -> None:
    assert rules(with_order(valid(), "o3", assigned_at=4)) == {"assigned_after_placement"}


def test_rule_pickup_before_off_time() -> None:
    early_off = dataclasses.replace(TINY, couriers={**TINY.couriers, "c2": Courier("c2", Point(3200, 0), 0, 19)})
    assert rules(valid(), early_off) == {"pickup_before_off"}


def test_rule_pickup_after_ready() -> None:
    # o1 is ready at 10; picking the bundle up at 8 (the stop shifted to match) is too soon.
    sol = with_order(with_order(valid(), "o1", pickup_at=8), "o2", pickup_at=8)
    sol = with_stop(sol, "c1", 1, depart_at=10)
    assert "pickup_after_ready" in rules(sol)


def test_rule_delivery_sequence() -> None:
    sol = valid()
    # o2's drop-off stop vanishes: picked up, never delivered.
    dropped = Solution(sol.orders, [s for s in sol.stops if s.place != "o2"])
    assert "delivery_sequence" in rules(dropped)
    # Delivered by the other courier than the one who picked it up.
    other = with_order(sol, "o3", courier="c1")
    assert "delivery_sequence" in rules(other)


def test_rule_moves_no_teleporting() -> None:
    # c2 reaches o3's door 1 minute after leaving the restaurant; the ride takes 2.
    sol = with_stop(valid(), "c2", 2, arrive_at=23, depart_at=27)
    sol = with_order(sol, "o3", dropoff_at=25)
    assert rules(sol) == {"moves"}


def test_rule_at_restaurant() -> None:
    sol = with_stop(valid(), "c1", 1, place="r2")
    assert "at_restaurant" in rules(sol)


def test_rule_at_customer() -> None:
    sol = with_order(valid(), "o1", dropoff_at=17)
    assert rules(sol) == {"at_customer"}
    wrong_door = with_stop(valid(), "c1", 2, place="o2")
    assert "at_customer" in rules(wrong_door)


def test_every_rule_has_a_test() -> None:
    names = {n.removeprefix("test_rule_") for n in globals() if n.startswith("test_rule_")}
    assert {"assigned_once", "assigned_after_placement", "pickup_before_off", "pickup_after_ready"} <= set(RULES)
    assert len(RULES) == 8 and len(names) == 8


@pytest.mark.parametrize("policy", ["engine", "naive"])
@pytest.mark.parametrize("ready", ["exact", "estimated"])
def test_generated_instance_replays_to_a_valid_solution(tmp_path: Path, policy: str, ready: str) -> None:
    inst = random_instance(seed=3, orders=60, couriers=10)
    write_instance(tmp_path / "inst", inst)
    again = read_instance(tmp_path / "inst")
    assert again.orders == inst.orders and again.couriers == inst.couriers
    if policy == "naive" and ready == "estimated":
        return  # the naive baseline never looks at ready times before committing
    out = tmp_path / "out"
    call_command("mdrp_run", str(tmp_path / "inst"), "--out", str(out), "--ready", ready, "--policy", policy)
    figures = json.loads((tmp_path / "out" / "metrics.json").read_text())
    for key in (
        "instance", "orders", "delivered", "pct_undelivered", "ctd_mean", "ctd_p90", "ctd_overage_mean", "rtp_mean",
        "rtp_p90", "utilisation_mean", "cost_per_order", "orders_per_bundle", "wall_s", "dispatch_calls",
        "dispatch_ms_p50", "dispatch_ms_max",
    ):  # fmt: skip
        assert key in figures
    assert figures["orders"] == 60
    sol = read_solution(tmp_path / "out")
    assert len(sol.orders) == 60
    assert check(inst, sol) == []
    assert figures["delivered"] == 60


def test_engine_beats_naive_on_a_busy_generated_instance() -> None:
    inst = random_instance(seed=11, orders=150, couriers=12, restaurants=8)
    engine = metrics(inst, replay(inst, policy="engine")[0])
    naive = metrics(inst, replay(inst, policy="naive")[0])
    assert engine["delivered"] >= naive["delivered"]
    assert engine["ctd_mean"] < naive["ctd_mean"]


def test_mdrp_run_fails_loudly_on_a_broken_solution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_instance(tmp_path / "inst", TINY)
    real_replay = replay

    def broken(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        sol, stats = real_replay(*args, **kwargs)  # type: ignore[arg-type]
        rows = [dataclasses.replace(r, assigned_at=-5.0) if r.courier else r for r in sol.orders]
        return Solution(rows, sol.stops), stats

    monkeypatch.setattr("dispatch.mdrp.run.replay", broken)
    with pytest.raises(CommandError, match="assigned_after_placement"):
        call_command("mdrp_run", str(tmp_path / "inst"), "--out", str(tmp_path / "out"))


def test_mdrp_run_refuses_a_missing_instance(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="missing"):
        call_command("mdrp_run", str(tmp_path / "nothing"), "--out", str(tmp_path / "out"))


def test_public_instance_replays_valid(shared_dir: Path, tmp_path: Path) -> None:
    folder = shared_dir / "benchmarks" / "mdrp" / "public_instances" / "0o50t100s1p100"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    call_command("mdrp_run", str(folder), "--out", str(tmp_path))
    figures = json.loads((tmp_path / "metrics.json").read_text())
    assert figures["orders"] == 252
    assert check(read_instance(folder), read_solution(tmp_path)) == []
