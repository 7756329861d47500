#!/usr/bin/env node
// SPDX-License-Identifier: GPL-2.0-or-later
//
// es-stub.js --port-file FILE: a fast loopback Elasticsearch _bulk endpoint for bench/outputs.sh
// (the test suite's tests/servers/fake_es.py is the faithful one; this one is fast enough not to
// be the bottleneck of a throughput benchmark). It does the work a node must do to answer a bulk
// request correctly, after the Elasticsearch 8.x _bulk documentation:
//   - POST|PUT /_bulk and /{index}/_bulk; Content-Encoding: gzip bodies are decompressed;
//     Content-Type must be application/x-ndjson or application/json (else 406); the body must end
//     with a newline (else 400 illegal_argument_exception);
//   - every action line is parsed as JSON: index / create / update (followed by a source line,
//     which must be present) or delete (none); an unknown action or a malformed line fails the
//     request with 400 as Elasticsearch does; _index comes from the line or the path (else 400
//     action_request_validation_exception), a missing _id is generated;
//   - the answer is {"took","errors":false,"items":[{op:{"_index","_id","_version","result",
//     "_shards","_seq_no","_primary_term","status"}}]}, one item per action, in order, with
//     201 "created" (200 "deleted" for delete).
// Skipped (see docs/benchmarks-outputs.md): storing and indexing the documents (the source lines
// are not parsed; an existing _id is not detected, so no 200 "updated" or 409), mappings,
// authentication, refresh, shards, replication.
// GET / answers the cluster info; GET /_stub/count answers {"docs","requests","bytes"} (documents
// indexed or created, bulk requests, request bytes as received); POST /_stub/reset zeroes them.
'use strict';

const fs = require('fs');
const http = require('http');
const zlib = require('zlib');

let portFile = null;
for (let i = 2; i < process.argv.length; i++)
	if (process.argv[i] === '--port-file')
		portFile = process.argv[++i];
if (!portFile) {
	process.stderr.write('usage: es-stub.js --port-file FILE\n');
	process.exit(2);
}

const stats = { docs: 0, requests: 0, bytes: 0 };
let seqNo = 0;
let idCounter = 0;
const SHARDS = '"_shards":{"total":2,"successful":1,"failed":0}';

function reply(res, status, obj) {
	const body = typeof obj === 'string' ? obj : JSON.stringify(obj);
	res.writeHead(status, {
		'Content-Type': 'application/json',
		'Content-Length': Buffer.byteLength(body),
		'X-elastic-product': 'Elasticsearch',
	});
	res.end(body);
}

function esError(res, status, type, reason) {
	reply(res, status, { error: { root_cause: [{ type, reason }], type, reason }, status });
}

// Elasticsearch's auto-generated ids are 20 URL-safe base64 characters.
function genId() {
	const s = (++idCounter).toString(36);
	return ('vigilbenchstubid0000' + s).slice(-20);
}

// Returns [status, body].
function bulk(text, pathIndex) {
	const t0 = Date.now();
	const items = [];
	let pos = 0, docs = 0;

	if (text.length === 0 || text[text.length - 1] !== '\n')
		return [400, { type: 'illegal_argument_exception',
			       reason: 'The bulk request must be terminated by a newline [\\n]' }];
	while (pos < text.length) {
		let nl = text.indexOf('\n', pos);
		const line = text.slice(pos, nl);
		pos = nl + 1;
		if (line.length === 0)
			continue;
		let action;
		try {
			action = JSON.parse(line);
		} catch (e) {
			return [400, { type: 'x_content_parse_exception', reason: 'Malformed action/metadata line' }];
		}
		const ops = typeof action === 'object' && action ? Object.keys(action) : [];
		if (ops.length !== 1)
			return [400, { type: 'illegal_argument_exception', reason: 'Malformed action/metadata line' }];
		const op = ops[0];
		const meta = action[op] || {};
		if (op === 'index' || op === 'create' || op === 'update') {
			nl = text.indexOf('\n', pos);
			if (nl <= pos)
				return [400, { type: 'illegal_argument_exception',
					       reason: 'Validation Failed: 1: source is missing;' }];
			pos = nl + 1;
		} else if (op !== 'delete') {
			return [400, { type: 'illegal_argument_exception',
				       reason: `Malformed action/metadata line, expected one of [create, delete, index, update] but found [${op}]` }];
		}
		const index = meta._index || pathIndex;
		if (!index)
			return [400, { type: 'action_request_validation_exception',
				       reason: 'Validation Failed: 1: index is missing;' }];
		const id = meta._id !== undefined ? String(meta._id) : genId();
		const deleted = op === 'delete';
		if (!deleted)
			docs++;
		items.push(`{"${op}":{"_index":${JSON.stringify(index)},"_id":${JSON.stringify(id)},` +
			   `"_version":1,"result":"${deleted ? 'not_found' : 'created'}",${SHARDS},` +
			   `"_seq_no":${seqNo++},"_primary_term":1,"status":${deleted ? 404 : 201}}}`);
	}
	stats.docs += docs;
	return [200, `{"took":${Date.now() - t0},"errors":false,"items":[${items.join(',')}]}`];
}

const server = http.createServer((req, res) => {
	const q = req.url.indexOf('?');
	const path = q < 0 ? req.url : req.url.slice(0, q);
	const chunks = [];

	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		if (req.method === 'GET' && path === '/_stub/count')
			return reply(res, 200, stats);
		if (req.method === 'POST' && path === '/_stub/reset') {
			stats.docs = stats.requests = stats.bytes = 0;
			return reply(res, 200, stats);
		}
		if ((req.method === 'GET' || req.method === 'HEAD') && path === '/')
			return reply(res, 200, {
				name: 'es-stub', cluster_name: 'vigil-bench',
				version: { number: '8.15.0', build_flavor: 'default' },
				tagline: 'You Know, for Search',
			});
		const m = /^\/(?:([^/_][^/]*)\/)?_bulk$/.exec(path);
		if (!m || (req.method !== 'POST' && req.method !== 'PUT'))
			return esError(res, 404, 'resource_not_found_exception', `no handler for ${path}`);
		const ct = (req.headers['content-type'] || '').split(';')[0].trim();
		if (ct !== 'application/x-ndjson' && ct !== 'application/json')
			return reply(res, 406, { error: `Content-Type header [${ct}] is not supported`, status: 406 });
		const raw = Buffer.concat(chunks);
		stats.requests++;
		stats.bytes += raw.length;
		const finish = (err, body) => {
			if (err)
				return esError(res, 400, 'parse_exception', 'cannot decompress the request body');
			const [status, out] = bulk(body.toString('utf8'), m[1] ? decodeURIComponent(m[1]) : null);
			if (status !== 200)
				return esError(res, status, out.type, out.reason);
			reply(res, 200, out);
		};
		if ((req.headers['content-encoding'] || '').toLowerCase() === 'gzip')
			zlib.gunzip(raw, finish);
		else
			finish(null, raw);
	});
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => {
	fs.writeFileSync(portFile + '.tmp', `${server.address().port}\n`);
	fs.renameSync(portFile + '.tmp', portFile);
});
