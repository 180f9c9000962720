"""The pure offer assignment: order, room per slot, one open offer per entry, no repeats, the
per-patient cap, windows and practitioner choice."""

from datetime import UTC, datetime, timedelta

from app.waitlist.matching import Candidate, OpenSlot, assign

T0 = datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
GROUP = (1, 10, 100)


def slot(minutes: int, practitioner: int = 7) -> OpenSlot:
    start = T0 + timedelta(minutes=minutes)
    return OpenSlot(
        start=start,
        end=start + timedelta(minutes=30),
        practitioner_id=practitioner,
        scheduler_config_id=70,
        location_id=10,
    )


def entry(i: int, *, patient: int | None = None, start=-60, end=600, doctors=(), group=GROUP):
    return Candidate(
        entry_id=i,
        patient_id=patient or i,
        group=group,
        practitioner_ids=frozenset(doctors),
        window_start=T0 + timedelta(minutes=start),
        window_end=T0 + timedelta(minutes=end),
    )


def run(candidates, slots, **kw):
    options = {
        "offers_per_slot": {1: 2},
        "open_per_slot": {},
        "entries_with_open_offer": set(),
        "already_offered": set(),
        "offers_today": {},
        "per_patient_cap": 3,
        **kw,
    }
    return [
        (a.entry_id, int((a.slot.start - T0).total_seconds() // 60))
        for a in assign(candidates, {GROUP: slots}, **options)
    ]


def test_oldest_first_earliest_slot_with_room():
    got = run([entry(i) for i in range(1, 6)], [slot(0), slot(30)])
    assert got == [(1, 0), (2, 0), (3, 30), (4, 30)]


def test_window_and_practitioner_choice():
    candidates = [
        entry(1, start=10),  # window opens after the first slot
        entry(2, end=0),  # window closes at the first slot's start: exclusive
        entry(3, doctors=(8,)),
        entry(4, doctors=(7, 8)),
        entry(5, group=(2, 10, 100)),  # another setting's group has no slots
    ]
    assert run(candidates, [slot(0), slot(30)]) == [(1, 30), (4, 0)]


def test_open_offers_and_history_count():
    got = run(
        [entry(1), entry(2), entry(3)],
        [slot(0), slot(30)],
        open_per_slot={(7, int(T0.timestamp())): 2},  # slot 0 is fully offered already
        entries_with_open_offer={2},
        already_offered={(3, (7, int((T0 + timedelta(minutes=30)).timestamp())))},
    )
    assert got == [(1, 30)]


def test_per_patient_cap_counts_this_round_too():
    candidates = [entry(1, patient=9), entry(2, patient=9), entry(3, patient=5)]
    got = run(candidates, [slot(0), slot(30)], offers_today={9: 1}, per_patient_cap=2)
    assert got == [(1, 0), (3, 0)]


def test_stops_when_every_slot_is_full():
    class Counting(list):
        seen = 0

        def __iter__(self):
            for item in super().__iter__():
                Counting.seen += 1
                yield item

    candidates = Counting(entry(i) for i in range(1, 1000))
    got = run(candidates, [slot(0)], offers_per_slot={1: 1})
    assert got == [(1, 0)] and Counting.seen <= 3
