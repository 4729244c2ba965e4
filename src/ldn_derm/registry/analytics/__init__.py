"""Registry analytics: response per course, cohort tables, Wilson intervals, Kaplan–Meier, plots.

Pure functions over the registry's plain records (`CourseView`), so they are tested without a
database. matplotlib and lifelines are imported inside the functions that need them.
"""


def preload() -> None:
    """Import lifelines and matplotlib now (about 3 s of CPU together), so that the first
    report a server draws does not wait for them. Safe to call from a background thread."""
    import lifelines  # noqa: F401
    import matplotlib.figure  # noqa: F401
