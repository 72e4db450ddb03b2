"""One customer's monthly SLA report: what the provider promised it and what happened.

`build` gathers the month from the store (incidents with their clocks and excluded
time, support requests, compliance, provider notices) into `model.CustomerReport`;
`render` writes that one value as JSON, CSV, printable HTML or PDF in the customer's
language, so every format says the same thing.
"""
