"""Durable, encrypted storage of documents and their projections (docs/ARCHITECTURE.md §4).

    base.py       the store's faces: DocumentStore (read, write, heads, attachment blobs)
                  and ReadModel (search, queue, worklists, stock, audit, as typed rows),
                  Store = both;
                  the DocWrite / Projections / AuditEvent records
    keys.py       the SQLCipher key file (random key, optionally wrapped by a passphrase)
    sqlcipher.py  SqlCipherStore, the real store; schema.py, writer.py, mutations.py and
                  queries.py are its parts (file and migrations, threads, writes, reads)
    search.py     folding and matching rules of patient search, shared with the fake
    blobs.py      attachment blobs in chunks, named by their SHA-256
    memory.py     MemoryStore, the in-memory fake for tests
"""
