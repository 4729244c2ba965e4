"""The patient banner: who this assessment is about, from the EHR's Patient resource.

One banner for the whole app: the presenter is `ldn_derm.web.presenters.patient_banner`, the
partial `templates/_patient_banner.html`.
"""

from __future__ import annotations

from ldn_derm.web.presenters import patient_banner

__all__ = ["patient_banner"]
