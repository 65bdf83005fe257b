"""The erasure case's split of a player's acknowledged events by the erasure's time."""

from chaos.load import LoadRecord, PlayerEvents


def test_events_answered_before_the_erasure_are_erased_and_those_sent_after_must_land():
    player = PlayerEvents("http://unused", "p1", LoadRecord())
    player.acknowledged = [
        ("answered-before", 10.0, 10.5),
        ("across", 10.8, 11.2),
        ("sent-after", 11.5, 11.6),
    ]
    assert player.split(erased_at=11.0) == ({"answered-before"}, {"sent-after"}, {"across"})
