"""The fleet at a glance: a static, self-contained HTML report with SVG pictures (pure: compiled fleet in, pages out)."""

from beskar.report.pages import GENERATOR, INDEX, ReportInput, SiteInput, build_report, site_page
from beskar.report.tables import MirrorRecord, MirrorState, MirrorStatus

__all__ = ["GENERATOR", "INDEX", "MirrorRecord", "MirrorState", "MirrorStatus", "ReportInput", "SiteInput", "build_report",
           "site_page"]
