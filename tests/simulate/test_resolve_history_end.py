"""A pin the release table does not list: kept once that package's own history has ended."""

from __future__ import annotations

from datetime import date, timedelta

from buildcensus.simulate._resolve import Resolver


def test_each_package_history_ends_on_its_own_last_release():
    r = Resolver()
    ends = sorted(r.last_day.values())
    assert ends[0] < ends[-1]  # histories end on different days
    early = min(r.last_day, key=lambda n: r.last_day[n])
    end = r.last_day[early]
    newest = max(r.hist[early], key=lambda x: x.key)
    unlisted = f"{newest.key.major + 1}.0.0"
    # After the package's own last listed release, an unlisted newer pin is a real later
    # release (kept), even while other packages' data goes on.
    assert r.before_history_ends(early, unlisted, end + timedelta(days=1))
    # On or before it, a newer version nobody listed is not out yet.
    assert not r.before_history_ends(early, unlisted, end)
    # A listed version is never "missing"; an older unlisted one is always possible.
    assert not r.before_history_ends(early, newest.version, date(2030, 1, 1))
    assert r.before_history_ends(early, "0.0.0.1", date(2000, 1, 1))
