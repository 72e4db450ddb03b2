"""The operator's console: server-rendered pages at `/console` over the same services
as the REST API (the board of owed clocks, incidents with their clock strips, the
unassigned queue, windows, provider notices and source health), signed in with an API
token. Kept out of the OpenAPI document: it is a user interface, not an API."""
