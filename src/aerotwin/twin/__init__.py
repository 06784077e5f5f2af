"""Component health rules, feature definitions, twin views, what-if simulation."""
