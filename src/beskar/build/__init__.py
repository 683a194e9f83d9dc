"""Tree + charts -> the final objects Flux would apply (pure over what the clients fetched and rendered)."""

from beskar.build.objects import (CLUSTER_LAYER, BuildFailure, BuiltObject, ChartIdentity, FailureKind, ObjectKey,
                                  ReleaseBuild, SiteBuild)

__all__ = ["CLUSTER_LAYER", "BuildFailure", "BuiltObject", "ChartIdentity", "FailureKind", "ObjectKey",
           "ReleaseBuild", "SiteBuild"]
