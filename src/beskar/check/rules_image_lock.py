"""Model rule on a site's image lock (sites/<site>/images.lock.yaml): digests taken too long ago."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterator

from beskar.check import settings as check_settings
from beskar.check.findings import Finding, Scope, Severity, report, rule
from beskar.fleet import LayeredSite
from beskar.model import Site


@rule("model/image-lock-age", Severity.WARNING, Scope.MODEL,
      "the site's image lock was taken at most fleet.checks.image_lock_max_age_days ago (default 90): "
      "an old lock pins images that miss their security fixes")
def image_lock_age(site: Site, layered: LayeredSite) -> Iterator[Finding]:
    lock = layered.image_lock
    if lock is None or not lock.images:
        return
    limit = check_settings.current().image_lock_max_age_days
    # The check's one clock read: how old a lock is depends on today, as a certificate's expiry does.
    today = datetime.now(timezone.utc)
    old = []
    for image, locked in lock.images.items():
        try:
            taken = datetime.strptime(locked.taken, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            continue
        if today - taken > timedelta(days=limit):
            old.append((locked.line, image, locked.taken))
    if old:
        line, image, taken = min(old)
        yield report("model/image-lock-age",
                     f"{len(old)} image digest(s) in {lock.file} were taken more than {limit} days ago "
                     f"(the oldest: {image}, {taken})", file=lock.file, line=line or 1, site=site.name,
                     hint="mirror the current images and re-lock: `beskar images mirror` then `beskar images lock`")
