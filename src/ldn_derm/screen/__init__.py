"""Population screening of FHIR Bulk Data exports (`ldn screen`).

`screen_export(export, as_of=..., out=..., fmt=...)` reads a Bulk Data output folder (NDJSON,
gzip or plain, local or any fsspec URL), groups resources per patient, runs the same core as
`ldn assess` on each patient (`ldn_derm.patient.profile_from_resources` then
`ldn_derm.assess.assess`) and writes a worklist: one row per patient and finding, plus the
screening-only reasons of `reasons.yaml`. Local worker processes by default; a Dask
`distributed` cluster with `scheduler=`. See docs/screening.md.
"""

from __future__ import annotations

from ldn_derm.screen.output import COLUMNS, WorklistFormat
from ldn_derm.screen.run import ScreenResult, screen_export

__all__ = ["COLUMNS", "ScreenResult", "WorklistFormat", "screen_export"]
