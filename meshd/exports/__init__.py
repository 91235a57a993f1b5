"""What leaves the clinic: FHIR R4 bundles, DHIS2 data value sets and CSV line lists.

The converters (`chart_read`, `fhir*`, `dhis2*`, `line_lists`, `periods`) are pure: plain chart
dicts in, plain dicts and rows out, no I/O and no clock. `run` is the thin shell that streams
documents out of the store and writes the file.
"""
