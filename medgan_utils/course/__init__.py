"""The course's exercises: ``course.check("3.2", answer)`` checks a learner's answer.

A view on top of the package (like ``dashboards``): it imports the package, nothing in the
package imports it. See :mod:`.exercises` for how a chapter lays out an exercise.
"""

from . import checks, checks_applied  # noqa: F401  (register every exercise)
from .exercises import EXERCISES, Exercise, check

__all__ = ["EXERCISES", "Exercise", "check"]
