"""The calibration fit's parts that ``validation/calibrate.py`` builds on."""
