"""How a design review deploys each chip: the layer-pipelined competitors sized per case (:mod:`.sizing`)."""
