"""Links from a finding to its file and line in the fleet repository's web view (GitLab and GitHub URL styles)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote


class Style(StrEnum):
    GITLAB = "gitlab"  # https://host/group/repo/-/blob/<branch>/<file>#L<line>
    GITHUB = "github"  # https://host/owner/repo/blob/<branch>/<file>#L<line>


@dataclass(frozen=True)
class WebRepository:
    base: str
    branch: str
    style: Style

    def url(self, file: str, line: int | None = None) -> str:
        blob = "/-/blob/" if self.style is Style.GITLAB else "/blob/"
        anchor = f"#L{line}" if line else ""
        return f"{self.base}{blob}{quote(self.branch, safe='')}/{quote(file)}{anchor}"


_SCP = re.compile(r"^(?:[\w.-]+@)?(?P<host>[\w.-]+):(?!//)(?P<path>.+)$")  # git@host:group/repo.git


def web_base(url: str) -> str | None:
    """The https address of a repository's web view from its clone URL (https, ssh:// or scp-like)."""
    url = url.strip()
    if url.startswith(("https://", "http://")):
        scheme, rest = url.split("://", 1)
        host, _, path = rest.partition("/")
        host = host.rsplit("@", 1)[-1]
    elif url.startswith("ssh://"):
        rest = url[len("ssh://"):]
        host, _, path = rest.partition("/")
        host, scheme = host.rsplit("@", 1)[-1].split(":", 1)[0], "https"
    elif (match := _SCP.match(url)) is not None:
        scheme, host, path = "https", match["host"], match["path"]
    else:
        return None
    path = path.strip("/").removesuffix(".git")
    return f"{scheme}://{host}/{path}" if host and path else None


def web_repository(settings: dict[str, Any]) -> WebRepository | None:
    """From `fleet.repository` in beskar.yaml: `url` (clone URL), `branch`, and optionally `web` (the web view's
    address, when it is not the clone URL's) and `style` (gitlab or github; default: github for github.com hosts)."""
    repository = settings.get("repository") if isinstance(settings, dict) else None
    if not isinstance(repository, dict):
        return None
    web = repository.get("web") or repository.get("url")
    base = web_base(str(web)) if web else None
    if base is None:
        return None
    style = repository.get("style")
    if style not in {s.value for s in Style}:
        style = Style.GITHUB if re.match(r"^https?://(www\.)?github\.", base) else Style.GITLAB
    return WebRepository(base, str(repository.get("branch") or "main"), Style(style))
