"""PendingRequests: id reservation, reuse, wrap-around and drain."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thingsdb.protocol import EVENT_PID, MAX_REQUEST_PID, PendingRequests

ID_COUNT = MAX_REQUEST_PID + 1  # 65,535 ids: 0 .. 0xFFFE


class Waiter:
    """A distinct, always-truthy object to store in the table."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __repr__(self) -> str:
        return f"Waiter({self.n})"


def full_table() -> tuple[PendingRequests[Waiter], dict[int, Waiter]]:
    table: PendingRequests[Waiter] = PendingRequests()
    model: dict[int, Waiter] = {}
    for i in range(ID_COUNT):
        w = Waiter(i)
        pid = table.reserve(w)
        assert pid is not None
        model[pid] = w
    return table, model


def test_constants() -> None:
    assert MAX_REQUEST_PID == 0xFFFE
    assert EVENT_PID == 0xFFFF


def test_reserve_hands_out_ids_in_order_from_zero() -> None:
    table: PendingRequests[Waiter] = PendingRequests()
    assert len(table) == 0
    pids = [table.reserve(Waiter(i)) for i in range(10)]
    assert pids == list(range(10))
    assert len(table) == 10
    assert 3 in table
    assert 10 not in table


def test_get_and_pop() -> None:
    table: PendingRequests[Waiter] = PendingRequests()
    w = Waiter(1)
    pid = table.reserve(w)
    assert pid is not None
    assert table.get(pid) is w
    assert table.pop(pid) is w
    assert pid not in table
    assert table.get(pid) is None
    assert table.pop(pid) is None  # a second pop finds nothing
    assert table.pop(12345) is None  # never reserved
    assert len(table) == 0


def test_65535_unique_ids_then_none() -> None:
    table, model = full_table()
    assert set(model) == set(range(ID_COUNT))
    assert EVENT_PID not in model
    assert len(table) == ID_COUNT
    assert table.is_full()
    assert table.reserve(Waiter(-1)) is None
    assert table.reserve(Waiter(-2)) is None
    assert len(table) == ID_COUNT


def test_full_table_hands_back_the_freed_id() -> None:
    table, model = full_table()
    for freed in (1234, 0, MAX_REQUEST_PID, 40_000):
        assert table.pop(freed) is model[freed]
        assert not table.is_full()
        w = Waiter(-freed)
        assert table.reserve(w) == freed
        assert table.get(freed) is w
        model[freed] = w
        assert table.is_full()
        assert table.reserve(Waiter(0)) is None


def test_full_table_with_two_freed_ids() -> None:
    table, _ = full_table()
    table.pop(10)
    table.pop(20)
    got = {table.reserve(Waiter(1)), table.reserve(Waiter(2))}
    assert got == {10, 20}
    assert table.reserve(Waiter(3)) is None


def test_id_not_reused_while_reserved_in_crowded_table() -> None:
    table, model = full_table()
    # free a block, refill it, and check each new id was free
    for pid in range(100, 200):
        table.pop(pid)
        del model[pid]
    for i in range(100):
        new = table.reserve(Waiter(i))
        assert new is not None
        assert new not in model
        model[new] = Waiter(i)
    assert set(model) == set(range(ID_COUNT))
    assert table.reserve(Waiter(0)) is None


def test_wrap_around_after_max_pid_with_empty_table() -> None:
    table: PendingRequests[Waiter] = PendingRequests()
    for i in range(ID_COUNT):
        pid = table.reserve(Waiter(i))
        assert pid == i
        table.pop(pid)
    # 0xFFFE was the last; the next id is 0 again, never 0xFFFF
    assert table.reserve(Waiter(0)) == 0
    assert table.reserve(Waiter(1)) == 1


def test_wrap_around_skips_reserved_ids() -> None:
    table: PendingRequests[Waiter] = PendingRequests()
    # keep 0 and 1 reserved, cycle the rest up to the end
    assert table.reserve(Waiter(0)) == 0
    assert table.reserve(Waiter(1)) == 1
    for i in range(2, ID_COUNT):
        assert table.reserve(Waiter(i)) == i
        table.pop(i)
    # the next id is never one still reserved (the freed-id hint may be used)
    pid = table.reserve(Waiter(-1))
    assert pid is not None
    assert pid not in (0, 1)
    assert 0 <= pid <= MAX_REQUEST_PID
    pid2 = table.reserve(Waiter(-2))
    assert pid2 not in (0, 1, pid, None)
    assert len(table) == 4


def test_drain_returns_every_waiter_and_empties_the_table() -> None:
    table: PendingRequests[Waiter] = PendingRequests()
    waiters = [Waiter(i) for i in range(50)]
    for w in waiters:
        table.reserve(w)
    table.pop(7)
    drained = list(table.drain())
    assert sorted(drained, key=lambda w: w.n) == waiters[:7] + waiters[8:]
    assert len(table) == 0
    assert 0 not in table
    assert list(table.drain()) == []
    # the table is usable again; every id is free
    pid = table.reserve(Waiter(99))
    assert pid is not None
    assert 0 <= pid <= MAX_REQUEST_PID


def test_drain_full_table_then_reserve_again() -> None:
    table, model = full_table()
    drained = list(table.drain())
    assert len(drained) == ID_COUNT
    assert {id(w) for w in drained} == {id(w) for w in model.values()}
    assert not table.is_full()
    assert table.reserve(Waiter(0)) is not None


def test_reserve_during_drain_goes_to_the_new_table() -> None:
    table: PendingRequests[Waiter] = PendingRequests()
    for i in range(3):
        table.reserve(Waiter(i))
    seen = []
    for w in table.drain():
        seen.append(w)
        table.reserve(Waiter(100 + w.n))
    assert len(seen) == 3
    assert len(table) == 3  # only the ones reserved while draining


# --- model-based ------------------------------------------------------------

operations = st.lists(
    st.one_of(
        st.tuples(st.just("reserve"), st.just(0)),
        st.tuples(st.just("pop"), st.integers(0, 10**6)),
        st.tuples(st.just("pop_unknown"), st.integers(0, 0xFFFF)),
    ),
    max_size=200,
)


def check_against_model(prefill: int, ops: list[tuple[str, int]]) -> None:
    table: PendingRequests[Waiter] = PendingRequests()
    model: dict[int, Waiter] = {}
    counter = 0

    def reserve() -> None:
        nonlocal counter
        counter += 1
        w = Waiter(counter)
        pid = table.reserve(w)
        if len(model) >= ID_COUNT:
            assert pid is None
            return
        assert pid is not None
        assert 0 <= pid <= MAX_REQUEST_PID
        assert pid not in model  # never reuse an id that is still reserved
        model[pid] = w

    for _ in range(prefill):
        reserve()
    for op, arg in ops:
        if op == "reserve":
            reserve()
        elif op == "pop":
            if not model:
                continue
            if len(model) < 1000:
                keys = list(model)
                pid = keys[arg % len(keys)]
            else:
                # crowded: the first reserved id at or after a random start
                pid = arg % ID_COUNT
                while pid not in model:
                    pid = (pid + 1) % ID_COUNT
            assert table.pop(pid) is model.pop(pid)
        else:
            expected = model.pop(arg, None)
            assert table.pop(arg) is expected
        assert len(table) == len(model)
        assert table.is_full() == (len(model) == ID_COUNT)
    for pid, w in model.items():
        assert table.get(pid) is w
    assert {id(w) for w in table.drain()} == {id(w) for w in model.values()}
    assert len(table) == 0


@settings(max_examples=200, deadline=None, database=None)
@given(prefill=st.sampled_from([0, 3, 100]), ops=operations)
def test_matches_a_model(prefill: int, ops: list[tuple[str, int]]) -> None:
    check_against_model(prefill, ops)


@settings(max_examples=15, deadline=None, database=None)
@given(prefill=st.sampled_from([65_500, ID_COUNT - 2, ID_COUNT]), ops=operations)
def test_matches_a_model_when_crowded(prefill: int, ops: list[tuple[str, int]]) -> None:
    check_against_model(prefill, ops)


@pytest.mark.parametrize("freed", [0, 1, 0x7FFF, MAX_REQUEST_PID - 1, MAX_REQUEST_PID])
def test_freed_id_is_reused_when_it_is_the_only_one(freed: int) -> None:
    table, model = full_table()
    assert table.pop(freed) is model[freed]
    assert table.reserve(Waiter(0)) == freed
    assert table.reserve(Waiter(1)) is None
