"""Running a review's independent pieces in worker processes (:mod:`.pool`)."""
