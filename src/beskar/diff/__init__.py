"""Semantic diff of two revisions of a fleet: models, rendered trees, objects, and the risks they carry (pure)."""

from beskar.diff.changes import (Area, Change, Failure, FieldChange, FileChange, Flag, FleetDiff, Manifest,
                                 ObjectChange, ObjectKey, Revision, Risk, Side, SiteDiff, Status, TextChange,
                                 ValueChange)
from beskar.diff.sites import Broken, SiteSide, diff_site, only_releases, unchanged
from beskar.diff.trees import tree_manifests

__all__ = ["Area", "Broken", "Change", "Failure", "FieldChange", "FileChange", "Flag", "FleetDiff", "Manifest",
           "ObjectChange", "ObjectKey", "Revision", "Risk", "Side", "SiteDiff", "SiteSide", "Status", "TextChange",
           "ValueChange", "diff_site", "only_releases", "tree_manifests", "unchanged"]
