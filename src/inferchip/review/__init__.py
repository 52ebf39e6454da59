"""The design review of a claim: suite, ranking, sensitivity, chart data.

The package is also the public ``ic.review(chips=[...], models=[...], **config)``
(:func:`inferchip.review.review.review`): calling it runs that function.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallablePackage(types.ModuleType):
    """``inferchip.review``, callable as :func:`inferchip.review.review.review`. Python binds a package to its name
    in the parent (``inferchip.review``) whenever one of its modules is imported, the very name of the public API's
    function: the two replaced one another (``ic.review(...)`` was "'module' object is not callable" after an
    ``import inferchip.review.inputs``, and ``inferchip.review.inputs`` "'function' object has no attribute
    'inputs'" after ``ic.review`` was read). One object is both now."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from inferchip.review.review import review

        return review(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
