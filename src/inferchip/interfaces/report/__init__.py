"""Pages inferchip writes: the design-review report (:mod:`.write`) and the validation page."""
