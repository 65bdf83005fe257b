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
