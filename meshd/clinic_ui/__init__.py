"""The web UI's service on the node: a thin door over the clinic core (`meshd.clinic`,
docs/ARCHITECTURE.md §2.1), split by concern:

    base.py      the clinic core and who acts: callers of writes and of reads
    people.py    facility set-up and users (directory)
    charts.py    patients, charts, entries, review resolution
    flow.py      queue, worklists, stock, reports, sync status
    records.py   documents and projection rows -> `ui.records`
    changes.py   live change events per subscriber (bounded, coalescing)
    sync_view.py the sync engine's report -> SyncStatus
    service.py   NodeClinicService, all of the above
    mount.py     the Node extension that mounts the UI beside /api/v1
"""
