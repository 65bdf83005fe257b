from ingest.guard import RateLimiter


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_bucket_allows_its_burst_then_refills_at_its_rate():
    clock = Clock()
    limiter = RateLimiter(rate=2.0, burst=4, clock=clock)
    assert limiter.take("p", 4) == 0
    assert limiter.take("p", 1) == 0.5
    clock.now = 0.5
    assert limiter.take("p", 1) == 0


def test_a_request_larger_than_the_burst_can_never_pass():
    limiter = RateLimiter(rate=1.0, burst=3, clock=Clock())
    assert limiter.take("p", 4) == float("inf")


def test_buckets_are_kept_apart_by_name():
    limiter = RateLimiter(rate=1.0, burst=1, clock=Clock())
    assert limiter.take("a") == 0
    assert limiter.take("b") == 0
    assert limiter.take("a") > 0


def test_a_million_players_keep_the_limiter_within_its_bound():
    clock = Clock()
    limiter = RateLimiter(rate=1.0, burst=5, clock=clock, max_names=10_000)
    for number in range(1_000_000):
        assert limiter.take(f"player-{number}") == 0
        clock.now += 1e-6
    assert len(limiter) <= 10_000
    # The most recent players keep their buckets: a second take finds one token spent.
    assert limiter.take("player-999999", 5) > 0


def test_an_idle_bucket_is_forgotten_once_it_would_be_full_again():
    clock = Clock()
    limiter = RateLimiter(rate=2.0, burst=4, clock=clock)
    limiter.take("p", 4)
    clock.now = 2.0  # 4 tokens / 2 per second
    assert len(limiter) == 0
    assert limiter.take("p", 4) == 0


def test_a_flood_of_made_up_names_does_not_free_a_player_being_limited():
    clock = Clock()
    limiter = RateLimiter(rate=0.001, burst=10, clock=clock, max_names=100)
    assert limiter.take("real-player", 8) == 0  # 2 tokens left
    for number in range(100_000):  # each made-up name charged once, as a flood would
        limiter.take(f"made-up-{number}")
        clock.now += 1e-6
    assert len(limiter) <= 100
    assert limiter.take("real-player", 3) > 0
    assert limiter.take("real-player", 2) == 0


def test_names_that_spend_half_a_burst_each_push_out_the_oldest_spent_bucket():
    """The bound holds whatever the flood: it only costs half a burst per name."""
    clock = Clock()
    limiter = RateLimiter(rate=0.001, burst=10, clock=clock, max_names=4)
    assert limiter.take("real-player", 8) == 0
    for number in range(2):
        assert limiter.take(f"spender-{number}", 6) == 0
        clock.now += 1e-6
    assert len(limiter) == 2
    assert limiter.take("real-player", 10) == 0  # evicted: a full bucket again


def test_a_bucket_that_crosses_half_and_refills_is_kept_once_with_its_tokens():
    clock = Clock()
    limiter = RateLimiter(rate=1.0, burst=10, clock=clock)
    assert limiter.take("p", 3) == 0  # 7 left: fresh
    assert limiter.take("p", 3) == 0  # 4 left: spent
    assert len(limiter) == 1
    clock.now = 4.0
    assert limiter.take("p", 1) == 0  # 7 left: fresh again
    assert len(limiter) == 1
    assert limiter.take("p", 7) == 0
    assert limiter.take("p", 1) == 1.0
