"""L0 data: the chip catalogue, the bundled model configs and the assumption files, with loaders."""
