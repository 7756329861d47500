// SPDX-License-Identifier: GPL-2.0-or-later
// node consume.js BROKERS TOPIC N: read N messages of TOPIC from the beginning with kafkajs (an
// independent Kafka client, not librdkafka) and print one JSON line per message:
// {"topic","partition","offset","key","headers":{…},"value"}. Exit 1 if fewer than N arrive
// within 60 s.
'use strict';
const { Kafka, logLevel } = require('kafkajs');

const [brokers, topic, nStr] = process.argv.slice(2);
const want = parseInt(nStr, 10);
const kafka = new Kafka({
  clientId: 'vigil-test-kafkajs',
  brokers: brokers.split(','),
  logLevel: logLevel.ERROR,
  retry: { retries: 10 },
});
const consumer = kafka.consumer({ groupId: `vigil-test-${process.pid}` });
const str = (b) => (b === null || b === undefined ? null : b.toString('utf8'));
let got = 0;

async function main() {
  const timer = setTimeout(async () => {
    process.stderr.write(`consume.js: only ${got} of ${want} messages after 60 s\n`);
    process.exit(1);
  }, 60000);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise((resolve) => {
    consumer.run({
      eachMessage: async ({ topic: t, partition, message }) => {
        const headers = {};
        for (const [k, v] of Object.entries(message.headers || {})) headers[k] = str(v);
        process.stdout.write(JSON.stringify({
          topic: t, partition, offset: message.offset, key: str(message.key), headers,
          value: str(message.value),
        }) + '\n');
        if (++got >= want) resolve();
      },
    });
  });
  clearTimeout(timer);
  await consumer.disconnect();
}

main().catch((e) => {
  process.stderr.write(`consume.js: ${e.stack || e}\n`);
  process.exit(1);
});
