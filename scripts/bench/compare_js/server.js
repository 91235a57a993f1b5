// The reference server of scripts/bench/compare: express-pouchdb (the CouchDB replication
// protocol, responses gzipped) over PouchDB's LevelDB store in DATA_DIR. Prints one JSON line,
// {"port": N}, once it listens on 127.0.0.1; runs until SIGTERM.
'use strict';

const path = require('path');
const express = require('express');
const PouchDB = require('pouchdb');
const expressPouchDB = require('express-pouchdb');

const dataDir = process.argv[2];
if (!dataDir) {
  console.error('usage: node server.js DATA_DIR');
  process.exit(2);
}
const Store = PouchDB.defaults({ prefix: dataDir + path.sep });
const app = express();
app.use('/', expressPouchDB(Store, {
  mode: 'minimumForPouchDB',
  inMemoryConfig: true,
  logPath: path.join(dataDir, 'express-pouchdb.log'),
}));
const server = app.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
