"""Registry analytics: response per course, cohort tables, Wilson intervals, Kaplan–Meier, plots.

Pure functions over the registry's plain records (`CourseView`), so they are tested without a
database. matplotlib and lifelines are imported inside the functions that need them.
"""
