#!/usr/bin/env node
// SPDX-License-Identifier: GPL-2.0-or-later
//
// hec-stub.js --port-file FILE --token TOKEN [--ack]: a fast loopback Splunk HTTP Event Collector
// for bench/outputs.sh (the test suite's tests/servers/fake_hec.py is the faithful one; this one
// is fast enough not to be the bottleneck of a throughput benchmark). After Splunk's HEC REST
// documentation it does the work HEC must do to answer correctly:
//   - POST /services/collector/event (also /services/collector and /services/collector/event/1.0)
//     with "Authorization: Splunk TOKEN" (401 code 2 when missing, 403 code 4 when wrong); with
//     --ack the token has indexer acknowledgement on: a channel is required (X-Splunk-Request-
//     Channel or ?channel=, 400 code 10 when missing, code 11 when not a GUID) and the answer
//     carries an ackId, counted per channel;
//   - Content-Encoding: gzip bodies are decompressed; the body is split into its JSON event
//     objects (concatenated, with or without whitespace between them) and every event is parsed:
//     a malformed one gives 400 code 6 "Invalid data format", one without "event" code 12, an
//     empty "event" code 13, each with "invalid-event-number" (the events before it count as
//     indexed, as HEC does); an empty body gives 400 code 5 "No data";
//   - POST /services/collector/ack?channel=C with {"acks":[ids]}: {"acks":{"id":true|false}};
//     an ackId issued on that channel is true (indexed at once) and reported true only once;
//   - GET /services/collector/health: {"text":"HEC is healthy","code":17}.
// Skipped (see docs/benchmarks-outputs.md): indexing (events are counted, not stored), index and
// sourcetype checks, the "time" field's validation, raw endpoint, queueing delays before acks.
// GET /_stub/count answers {"events","requests","bytes","acks"}; POST /_stub/reset zeroes them.
'use strict';

const fs = require('fs');
const http = require('http');
const zlib = require('zlib');

let portFile = null, token = null, useAck = false;
for (let i = 2; i < process.argv.length; i++) {
	if (process.argv[i] === '--port-file')
		portFile = process.argv[++i];
	else if (process.argv[i] === '--token')
		token = process.argv[++i];
	else if (process.argv[i] === '--ack')
		useAck = true;
}
if (!portFile || !token) {
	process.stderr.write('usage: hec-stub.js --port-file FILE --token TOKEN [--ack]\n');
	process.exit(2);
}

const stats = { events: 0, requests: 0, bytes: 0, acks: 0 };
// channel -> { next: next ackId, pending: Set of ackIds not reported true yet }
const channels = new Map();
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function reply(res, status, obj) {
	const body = JSON.stringify(obj);
	res.writeHead(status, { 'Content-Type': 'application/json; charset=UTF-8',
				'Content-Length': Buffer.byteLength(body) });
	res.end(body);
}

// Slow path: split concatenated JSON objects by brace depth (strings and escapes honoured).
function splitObjects(text) {
	const out = [];
	let depth = 0, start = -1, inStr = false;
	for (let i = 0; i < text.length; i++) {
		const c = text.charCodeAt(i);
		if (inStr) {
			if (c === 92)
				i++;
			else if (c === 34)
				inStr = false;
		} else if (c === 34) {
			inStr = true;
		} else if (c === 123) {
			if (depth++ === 0)
				start = i;
		} else if (c === 125) {
			if (--depth === 0)
				out.push(text.slice(start, i + 1));
		} else if (depth === 0 && c > 32) {
			out.push(text.slice(i)); // garbage between objects: reported as malformed
			return out;
		}
	}
	if (depth !== 0)
		out.push(text.slice(start));
	return out;
}

// Returns [status, answer]; counts the events it accepts.
function events(text) {
	let parts = text.split('\n');
	const parsed = [];
	let fast = true;

	for (const p of parts) {
		if (p.trim().length === 0)
			continue;
		try {
			parsed.push(JSON.parse(p));
		} catch (e) {
			fast = false;
			break;
		}
	}
	if (!fast) {
		// Not one object per line: split the whole body the general way.
		parsed.length = 0;
		parts = splitObjects(text);
		for (let i = 0; i < parts.length; i++) {
			try {
				parsed.push(JSON.parse(parts[i]));
			} catch (e) {
				stats.events += i;
				return [400, { text: 'Invalid data format', code: 6, 'invalid-event-number': i }];
			}
		}
	}
	if (parsed.length === 0)
		return [400, { text: 'No data', code: 5 }];
	for (let i = 0; i < parsed.length; i++) {
		const ev = parsed[i];
		if (typeof ev !== 'object' || ev === null || Array.isArray(ev)) {
			stats.events += i;
			return [400, { text: 'Invalid data format', code: 6, 'invalid-event-number': i }];
		}
		if (!('event' in ev)) {
			stats.events += i;
			return [400, { text: 'Event field is required', code: 12, 'invalid-event-number': i }];
		}
		if (ev.event === '' || ev.event === null) {
			stats.events += i;
			return [400, { text: 'Event field cannot be blank', code: 13, 'invalid-event-number': i }];
		}
	}
	stats.events += parsed.length;
	return [200, { text: 'Success', code: 0 }];
}

function channelOf(req, query) {
	const h = req.headers['x-splunk-request-channel'];
	if (h)
		return h;
	const m = /(?:^|&)channel=([^&]*)/.exec(query);
	return m ? decodeURIComponent(m[1]) : null;
}

const server = http.createServer((req, res) => {
	const q = req.url.indexOf('?');
	const path = q < 0 ? req.url : req.url.slice(0, q);
	const query = q < 0 ? '' : req.url.slice(q + 1);
	const chunks = [];

	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		if (req.method === 'GET' && path === '/_stub/count')
			return reply(res, 200, stats);
		if (req.method === 'POST' && path === '/_stub/reset') {
			stats.events = stats.requests = stats.bytes = stats.acks = 0;
			return reply(res, 200, stats);
		}
		if (req.method === 'GET' && path === '/services/collector/health')
			return reply(res, 200, { text: 'HEC is healthy', code: 17 });
		const isEvent = path === '/services/collector/event' || path === '/services/collector' ||
				path === '/services/collector/event/1.0';
		const isAck = path === '/services/collector/ack';
		if (!isEvent && !isAck)
			return reply(res, 404, { text: 'The requested URL was not found on this server.', code: 404 });
		if (req.method !== 'POST')
			return reply(res, 405, { text: 'Method not allowed', code: 405 });
		const auth = req.headers.authorization;
		if (!auth)
			return reply(res, 401, { text: 'Token is required', code: 2 });
		if (auth !== 'Splunk ' + token)
			return reply(res, 403, { text: 'Invalid token', code: 4 });
		const channel = channelOf(req, query);
		if (useAck || isAck) {
			if (!useAck)
				return reply(res, 400, { text: 'ACK is disabled', code: 14 });
			if (!channel)
				return reply(res, 400, { text: 'Data channel is missing', code: 10 });
			if (!GUID.test(channel))
				return reply(res, 400, { text: 'Invalid data channel', code: 11 });
		}
		const raw = Buffer.concat(chunks);
		const finish = (err, body) => {
			if (err)
				return reply(res, 400, { text: 'Invalid data format', code: 6 });
			if (isAck) {
				let ids;
				try {
					ids = JSON.parse(body.toString('utf8')).acks;
				} catch (e) {
					ids = null;
				}
				if (!Array.isArray(ids))
					return reply(res, 400, { text: 'Invalid data format', code: 6 });
				const ch = channels.get(channel);
				const acks = {};
				for (const id of ids) {
					const ok = !!ch && ch.pending.delete(id);
					acks[id] = ok;
					if (ok)
						stats.acks++;
				}
				return reply(res, 200, { acks });
			}
			stats.requests++;
			stats.bytes += raw.length;
			const [status, answer] = events(body.toString('utf8'));
			if (status === 200 && useAck) {
				let ch = channels.get(channel);
				if (!ch) {
					ch = { next: 0, pending: new Set() };
					channels.set(channel, ch);
				}
				answer.ackId = ch.next++;
				ch.pending.add(answer.ackId);
			}
			reply(res, status, answer);
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
