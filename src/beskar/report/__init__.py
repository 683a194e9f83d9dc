"""The fleet at a glance: a static, self-contained HTML report with SVG pictures (pure: compiled fleet in, pages out)."""

from beskar.report.images import MirrorStatus
from beskar.report.pages import GENERATOR, INDEX, ReportInput, SiteInput, build_report, site_page

__all__ = ["GENERATOR", "INDEX", "MirrorStatus", "ReportInput", "SiteInput", "build_report", "site_page"]
