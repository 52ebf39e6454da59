"""``inferchip validate`` and ``inferchip calibrate``: the command (``command``) and its vision case files
(``vision_cases``)."""
