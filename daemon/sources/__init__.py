"""The daemon side of the source connectors: webhooks, pollers and synchronised windows.

Connectors (`connectors/`) parse, authenticate and talk to a monitoring system but never
touch the store; the modules here hold the state that needs it (watermarks, health,
windows taken over from the source, write-back bookkeeping) and feed the ingest writer.
"""
