"""Energy rows of the validation: what a row states, its predicted power and tokens per joule, and the fit of the
power model's coefficients to them."""
