"""The web UI's service on the node, split by concern:

    base.py      shared plumbing: Clinic, callers (who writes, who reads), names
    people.py    facility set-up and users (directory)
    charts.py    patients, charts, entries, review resolution
    flow.py      queue, worklists, stock, reports, sync status
    records.py   documents and projection rows -> `ui.records`
    changes.py   live change events per subscriber (bounded, coalescing)
    sync_view.py the sync engine's report -> SyncStatus
    service.py   NodeClinicService, all of the above
    mount.py     the Node extension that mounts the UI beside /api/v1
"""
