"""A seeded chaos soak of real `meshd` nodes in network namespaces, driven by a clinic's day.

    nsclient   the JSON API of a node, called from a thread inside its namespace
    cluster    the nodes: data dirs of one mesh, processes, kill/stop/restart, CPU seconds
    day_plan   the seeded plan of the day: visits, stations, illnesses, stock deliveries
    clinic_day the plan run through the APIs: every acknowledged write recorded
    faults     the seeded fault schedule: partitions, rate limits, SIGKILL, SIGSTOP
    checks     convergence and the end-of-day checks
    soak       the run: setup, day and faults together, heal, converge, check, summary

Nothing here is imported by the project's packages; it only drives `meshd` from outside.
"""
