// The reference replica of scripts/bench/compare: a PouchDB database on LevelDB in LOCAL_DIR
// that pulls REMOTE_URL. Prints JSON lines: {"synced": docs, "doc_count": n} when the one-off
// initial replication has completed, then {"id": ..., "rev": ...} for each document that the
// live replication (started right after, from the same checkpoint) has written. Runs until
// SIGTERM.
'use strict';

const PouchDB = require('pouchdb');

const [remoteUrl, localDir] = process.argv.slice(2);
if (!remoteUrl || !localDir) {
  console.error('usage: node client.js REMOTE_URL LOCAL_DIR');
  process.exit(2);
}
const say = (line) => process.stdout.write(JSON.stringify(line) + '\n');

async function main() {
  const local = new PouchDB(localDir);
  const result = await local.replicate.from(remoteUrl);
  const info = await local.info();
  say({ synced: result.docs_written, doc_count: info.doc_count });
  const live = local.replicate.from(remoteUrl, { live: true, retry: true });
  live.on('change', (change) => {
    for (const doc of change.docs) say({ id: doc._id, rev: doc._rev });
  });
  live.on('error', (err) => { console.error(err); process.exit(1); });
  process.on('SIGTERM', () => { live.cancel(); local.close().then(() => process.exit(0)); });
}

main().catch((err) => { console.error(err); process.exit(1); });
