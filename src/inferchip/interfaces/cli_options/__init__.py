"""What the commands share at the command line: option definitions with their bounds and
checks (:mod:`.options`; the serving-engine options :mod:`.engine`), safe file output
(:mod:`.files`) and the translation of errors into one line a user can act on (:mod:`.boundary`)."""
